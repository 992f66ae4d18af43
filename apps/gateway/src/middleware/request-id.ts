import { REQUEST_ID_PATTERN } from "@slm/config";
import type { MiddlewareHandler } from "hono";
import type { HeaderReader } from "../runtime/runtime.ts";
import type { GatewayEnv } from "../types.ts";

/**
 * Request ids. Hono's `hono/request-id` is close but accepts `=` and rejects `.` (and allows 255 chars); the gateway's
 * contract with callers and with inference is @slm/config's `REQUEST_ID_PATTERN` (`^[A-Za-z0-9._:-]{1,128}$`, the
 * same rule inference applies): a caller's id of another shape is replaced by a fresh UUID, never logged as sent.
 */

export { REQUEST_ID_PATTERN };

export interface RequestIdOptions {
  /** Default "X-Request-Id". Read from the request, sent to inference, echoed on the response. */
  headerName?: string;
  /** Default `crypto.randomUUID()`. */
  generator?: () => string;
  header?: HeaderReader;
}

export function requestId(options: RequestIdOptions = {}): MiddlewareHandler<GatewayEnv> {
  const headerName = options.headerName ?? "X-Request-Id";
  const generate = options.generator ?? (() => crypto.randomUUID());
  const lowerName = headerName.toLowerCase();
  const header: HeaderReader = options.header ?? ((c, name) => c.req.header(name));
  return async function requestId(c, next) {
    const incoming = header(c, lowerName);
    const id = incoming !== undefined && REQUEST_ID_PATTERN.test(incoming) ? incoming : generate();
    c.set("requestId", id);
    // Echoed on every response, errors included, through the response header record (see response-headers.ts).
    c.get("responseHeaders")[headerName] = id;
    return next();
  };
}
