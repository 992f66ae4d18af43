import type { MiddlewareHandler } from "hono";
import type { Logger } from "./logger.ts";
import type { GatewayEnv } from "./types.ts";

export interface AccessLogOptions {
  logger: Logger;
}

/** One line per request: id, method, path (no query), status, ms until the response head (a stream may go on).
 * Never headers, so never a key; `keyId` is a SHA-256 prefix of the key, not the key. */
export function accessLog(options: AccessLogOptions): MiddlewareHandler<GatewayEnv> {
  const { logger } = options;
  return async function accessLog(c, next) {
    const start = Date.now();
    await next();
    logger.info("request", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Date.now() - start,
      keyId: c.get("apiKeyId") ?? undefined,
    });
  };
}
