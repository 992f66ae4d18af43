import type { ErrorEnvelope } from "@slm/config";

/** An error answer of the gateway (any status, or an `event: error` mid-stream), with the envelope's fields. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  constructor(
    /** HTTP status; 200 for an error event inside a stream that had started. */
    readonly status: number,
    /** The envelope's `code` (e.g. `invalid_api_key`), or `unexpected_response` when the answer had no envelope. */
    readonly code: string,
    message: string,
    /** Seconds, from `Retry-After`, when the gateway sent one. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }

  static fromEnvelope(status: number, envelope: ErrorEnvelope, retryAfter: number | null = null): GatewayError {
    return new GatewayError(status, envelope.error.code ?? envelope.error.type, envelope.error.message, retryAfter);
  }
}

function isEnvelope(value: unknown): value is ErrorEnvelope {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const error = (value as { error: unknown }).error;
  return typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string";
}

/** The GatewayError of a non-2xx response (its body is read). */
export async function readGatewayError(response: Response): Promise<GatewayError> {
  const retryAfterHeader = response.headers.get("retry-after");
  const retryAfter = retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : null;
  const body: unknown = await response.json().catch(() => undefined);
  if (isEnvelope(body)) return GatewayError.fromEnvelope(response.status, body, retryAfter);
  return new GatewayError(
    response.status,
    "unexpected_response",
    `The gateway answered ${response.status}.`,
    retryAfter,
  );
}

/** Parses the data of an SSE `event: error` into a GatewayError. */
export function streamError(data: string): GatewayError {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    body = undefined;
  }
  if (isEnvelope(body)) return GatewayError.fromEnvelope(200, body);
  return new GatewayError(200, "unexpected_response", "The stream ended with an error.");
}
