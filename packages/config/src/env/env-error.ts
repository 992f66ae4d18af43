import { SafeError } from "../errors/safe-error.ts";

/** One problem with one environment variable. `expected` never contains the value that was received. */
export interface EnvProblem {
  variable: string;
  expected: string;
}

/**
 * A bad environment, with every problem at once so an operator fixes them in one go.
 * The message names variables and what was expected; it never echoes a value (values may be secrets).
 */
export class EnvError extends SafeError {
  override readonly name = "EnvError";
  readonly code = "invalid_environment";
  constructor(
    readonly service: string,
    readonly problems: readonly EnvProblem[],
  ) {
    super(
      `invalid ${service} environment (${problems.length} problem${problems.length === 1 ? "" : "s"}): ` +
        problems.map((p) => `${p.variable}: expected ${p.expected}`).join("; "),
    );
  }
}
