import { ApiError } from "@slm/config";
import type { Context } from "hono";
import type { GatewayEnv } from "../types.ts";

/** Request bodies: the size limit, reading with the web-standard API, and strict UTF-8 decoding. */

export function bodyTooLarge(maxBytes: number): ApiError {
  return new ApiError(
    413,
    "invalid_request_error",
    "request_too_large",
    `Request body too large: the limit is ${maxBytes} bytes.`,
  );
}

/** A Content-Length over the limit, checked before reading anything. */
export function declaredTooLarge(contentLength: string | undefined | null, maxBytes: number): boolean {
  if (contentLength === undefined || contentLength === null) return false;
  const length = Number(contentLength);
  return Number.isFinite(length) && length > maxBytes;
}

/** Reads `request.body` up to `maxBytes`, cancelling the upload beyond it (works for chunked bodies too). */
export async function readBodyWeb(c: Context<GatewayEnv>, maxBytes: number): Promise<Uint8Array> {
  const request = c.req.raw;
  if (declaredTooLarge(request.headers.get("content-length"), maxBytes)) throw bodyTooLarge(maxBytes);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw bodyTooLarge(maxBytes);
    }
    chunks.push(value);
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
