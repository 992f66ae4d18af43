import * as v from "valibot";
import { SafeError } from "../errors/safe-error.ts";

/** OpenAI's error types, as clients switch on them. */
export type ApiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "server_error"
  | "service_unavailable";

export interface ErrorEnvelope {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

/** Schema of an envelope received from elsewhere (e.g. relayed from inference): `type` may be any string. */
export const ErrorEnvelopeSchema = v.object({
  error: v.object({
    message: v.string(),
    type: v.string(),
    param: v.nullable(v.string()),
    code: v.nullable(v.string()),
  }),
});

/**
 * An error that is part of the API (a SafeError): status, OpenAI type and a stable code. Its message is shown to clients as is,
 * so it must never hold a stack, a token, a Hub URL or an internal address.
 */
export class ApiError extends SafeError {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toJSON(): ErrorEnvelope {
    return errorEnvelope(this.type, this.message, { code: this.code, param: this.param });
  }
}

export function errorEnvelope(
  type: ApiErrorType,
  message: string,
  options: { code?: string | null; param?: string | null } = {},
): ErrorEnvelope {
  return { error: { message, type, param: options.param ?? null, code: options.code ?? null } };
}

/** Turns valibot issues into one 400 naming the first offending field, the way OpenAI reports `param`. */
export function invalidRequest(issues: readonly v.BaseIssue<unknown>[]): ApiError {
  const first = issues[0];
  const param = first ? v.getDotPath(first) : null;
  const details = issues
    .slice(0, 5)
    .map((i) => `${v.getDotPath(i) ?? "body"}: ${i.message}`)
    .join("; ");
  return new ApiError(400, "invalid_request_error", "invalid_request", `Invalid request: ${details}`, param);
}

/** Message function for valibot that states what was expected without echoing what was received. */
export function expectationMessage(issue: v.BaseIssue<unknown>): string {
  if (issue.kind === "schema" && issue.input === undefined) return "required";
  return `expected ${issue.expected ?? issue.kind}`;
}
