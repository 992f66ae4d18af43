import type { ErrorEnvelope } from "./error.ts";

/** Server-sent events as OpenAI streams them: `data: <json>\n\n`, ending with `data: [DONE]`. */
const encoder = new TextEncoder();

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
} as const;

export function sseData(payload: unknown): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(payload)}\n\n`);
}

export const SSE_DONE: Uint8Array = encoder.encode("data: [DONE]\n\n");

/**
 * A typed error event for a stream that breaks after it started. The payload is the error envelope, so the
 * official clients (which look for `error` in a data line) raise it as an APIError.
 */
export function sseError(envelope: ErrorEnvelope): Uint8Array {
  return encoder.encode(`event: error\ndata: ${JSON.stringify(envelope)}\n\n`);
}
