import * as v from "valibot";
import { EnvError, type EnvProblem } from "./env-error.ts";

export type EnvSource = Record<string, string | undefined>;

export interface ReadEnvOptions {
  /** Variables whose value is free text and kept as given (no inline comment is cut off). */
  freeText?: readonly string[];
}

/**
 * A trailing ` # comment`, or a value that is only a comment. dotenv-style loaders (Node's --env-file and
 * loadEnvFile, docker compose) drop it themselves, but `docker run --env-file` and some orchestrators pass the rest
 * of the line verbatim: `MODEL_VERSION=v0.1.0   # tag or commit hash` must still mean v0.1.0. No identifier, token,
 * number or path we read contains whitespace followed by `#`.
 */
const INLINE_COMMENT = /(?:^|\s+)#.*$/s;

/**
 * Parses `source` (usually `process.env`) with an env schema. Empty strings count as unset, as in the Python Hub client,
 * and so do values that are only a comment; an inline comment after a value is dropped (see INLINE_COMMENT).
 * All problems are collected (no abort-early) and reported by variable name and expectation only: valibot's default
 * messages include the received value, which may be a token, so they are replaced here.
 */
export function readEnv<TSchema extends v.GenericSchema<EnvSource, unknown>>(
  service: string,
  schema: TSchema,
  source: EnvSource,
  options: ReadEnvOptions = {},
): v.InferOutput<TSchema> {
  const cleaned = cleanEnv(source, options);
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

/** The variables that have a value, once blank values and inline comments are dropped (see readEnv). */
export function cleanEnv(source: EnvSource, options: ReadEnvOptions = {}): EnvSource {
  const cleaned: EnvSource = {};
  for (const [key, raw] of Object.entries(source)) {
    const value = raw === undefined || options.freeText?.includes(key) ? raw : raw.replace(INLINE_COMMENT, "");
    if (value !== undefined && value.trim() !== "") cleaned[key] = value;
  }
  return cleaned;
}
