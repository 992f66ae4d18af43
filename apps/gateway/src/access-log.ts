import type { MiddlewareHandler } from "hono";
import type { Logger } from "./logger.ts";
import type { GatewayEnv } from "./types.ts";

export interface AccessLogOptions {
  logger: Logger;
}

/** One line per request: id, method, path (no query), status, duration. Never headers, so never a key. */
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
