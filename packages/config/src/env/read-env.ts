import * as v from "valibot";
import { EnvError, type EnvProblem } from "./env-error.ts";

export type EnvSource = Record<string, string | undefined>;

/**
 * Parses `source` (usually `process.env`) with an env schema. Empty strings count as unset, as in the Python Hub client.
 * All problems are collected (no abort-early) and reported by variable name and expectation only: valibot's default
 * messages include the received value, which may be a token, so they are replaced here.
 */
export function readEnv<TSchema extends v.GenericSchema<EnvSource, unknown>>(
  service: string,
  schema: TSchema,
  source: EnvSource,
): v.InferOutput<TSchema> {
  const cleaned: EnvSource = {};
  for (const [key, value] of Object.entries(source)) {
    if (value !== undefined && value.trim() !== "") cleaned[key] = value;
  }
  const result = v.safeParse(schema, cleaned, {
    abortEarly: false,
    message: (issue) => issue.expected ?? issue.kind,
  });
  if (result.success) return result.output;
  const problems: EnvProblem[] = result.issues.map((issue) => ({
    variable: v.getDotPath(issue) ?? "(environment)",
    expected: issue.message,
  }));
  throw new EnvError(service, problems);
}
