import { ApiError } from "@slm/config";
import type { Context } from "hono";
import type { GatewayEnv } from "../types.ts";
import { clientClosed } from "./request-scope.ts";

/**
 * Request bodies: the size and depth limits, the read deadline, reading with the web-standard API, and strict UTF-8
 * decoding.
 */

export interface BodyReadOptions {
  /** The whole body must arrive within this (GATEWAY_BODY_TIMEOUT_MS); beyond, 408. Absent or 0: no deadline. */
  timeoutMs?: number | undefined;
  /** Stops reading when the client is gone (the request scope's signal): 499. */
  signal?: AbortSignal | undefined;
}

export function bodyTooLarge(maxBytes: number): ApiError {
  return new ApiError(
    413,
    "invalid_request_error",
    "request_too_large",
    `Request body too large: the limit is ${maxBytes} bytes.`,
  );
}

/** A body nested deeper than the limit: refused before anything recursive (stringify, validation) walks it. */
export function bodyTooDeep(maxDepth: number): ApiError {
  return new ApiError(
    400,
    "invalid_request_error",
    "json_too_deep",
    `Request body nests JSON too deeply: the limit is ${maxDepth} levels of objects and arrays.`,
  );
}

/** The body did not arrive in time: 408, and the connection is closed (its client may still be sending). */
export function bodyTimedOut(timeoutMs: number): ApiError {
  return new ApiError(
    408,
    "invalid_request_error",
    "request_timeout",
    `Request body not received in time: the limit is ${timeoutMs} ms.`,
    null,
    { Connection: "close" },
  );
}

/** A Content-Length over the limit, checked before reading anything. */
export function declaredTooLarge(contentLength: string | undefined | null, maxBytes: number): boolean {
  if (contentLength === undefined || contentLength === null) return false;
  const length = Number(contentLength);
  return Number.isFinite(length) && length > maxBytes;
}

/**
 * Reads `request.body` up to `maxBytes` within `timeoutMs`, cancelling the upload beyond either (works for chunked
 * bodies too).
 */
export async function readBodyWeb(
  c: Context<GatewayEnv>,
  maxBytes: number,
  options: BodyReadOptions = {},
): Promise<Uint8Array> {
  const request = c.req.raw;
  if (declaredTooLarge(request.headers.get("content-length"), maxBytes)) throw bodyTooLarge(maxBytes);
  if (!request.body) return new Uint8Array(0);
  const { signal, timeoutMs } = options;
  if (signal?.aborted) throw clientClosed();
  const reader = request.body.getReader();
  // One promise that rejects when the deadline passes or the client goes; each read races it.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop =
    (timeoutMs !== undefined && timeoutMs > 0) || signal !== undefined
      ? new Promise<never>((_, reject) => {
          if (timeoutMs !== undefined && timeoutMs > 0)
            timer = setTimeout(() => reject(bodyTimedOut(timeoutMs)), timeoutMs);
          onAbort = () => reject(clientClosed());
          signal?.addEventListener("abort", onAbort, { once: true });
        })
      : undefined;
  stop?.catch(() => {}); // handled where it is raced
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await (stop ? Promise.race([reader.read(), stop]) : reader.read());
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw bodyTooLarge(maxBytes);
      chunks.push(value);
    }
  } catch (err) {
    void reader.cancel().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
  if (chunks.length === 1) return chunks[0]!;
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Strict UTF-8: invalid bytes are a 400, not silently replaced. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ApiError(400, "invalid_request_error", "invalid_encoding", "Request body is not valid UTF-8.");
  }
}
