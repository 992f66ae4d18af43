/**
 * The one base of every error whose message is safe to show: a stable snake_case `code` and a one-line message that
 * names the problem and what to do about it, never a URL, a token, an internal address or a stack trace. Hub, LoRA,
 * conversion, engine, environment and CLI errors extend it; `describeError` is the one place that decides what of an
 * error reaches a log line, a CLI's stderr or a response.
 */
export abstract class SafeError extends Error {
  /** Stable, snake_case: clients, logs and tests match on it. */
  abstract readonly code: string;
}

export interface DescribedError {
  code: string;
  message: string;
}

/**
 * What may be shown of any thrown value: a SafeError's own code and message; anything else (a library's error, which
 * may embed a request URL or a token) only by its class name, under `fallbackCode`.
 */
export function describeError(error: unknown, fallbackCode = "unexpected_error", during?: string): DescribedError {
  if (error instanceof SafeError) return { code: error.code, message: error.message };
  const name = error instanceof Error ? error.name : "failure";
  return { code: fallbackCode, message: `unexpected ${name}${during ? ` ${during}` : ""}` };
}
