import type { MiddlewareHandler } from "hono";
import type { GatewayEnv } from "./types.ts";

/**
 * Request ids. Hono's `hono/request-id` is close but accepts `=` and rejects `.` (and allows 255 chars); the gateway's
 * contract with callers and with inference is `^[\w.-]{1,128}$`, so this is the same middleware with that rule.
 */

export const REQUEST_ID_PATTERN = /^[\w.-]{1,128}$/;

export interface RequestIdOptions {
  /** Default "X-Request-Id". Read from the request, sent to inference, echoed on the response. */
  headerName?: string;
  /** Default `crypto.randomUUID()`. */
  generator?: () => string;
}

export function requestId(options: RequestIdOptions = {}): MiddlewareHandler<GatewayEnv> {
  const headerName = options.headerName ?? "X-Request-Id";
  const generate = options.generator ?? (() => crypto.randomUUID());
  return async function requestId(c, next) {
    const incoming = c.req.header(headerName);
    const id = incoming !== undefined && REQUEST_ID_PATTERN.test(incoming) ? incoming : generate();
    c.set("requestId", id);
    await next();
    // After the handler: a handler may return its own Response (the upstream relay does), which would drop headers
    // set before `next()`. Setting it here covers responses from handlers, onError and notFound alike.
    c.header(headerName, id);
  };
}
