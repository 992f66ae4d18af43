import type { MiddlewareHandler } from "hono";
import type { Logger } from "../logger.ts";
import { noMetrics, type GatewayMetrics } from "../metrics/metrics.ts";
import type { GatewayEnv } from "../types.ts";

export interface AccessLogOptions {
  logger: Logger;
  metrics?: GatewayMetrics;
  /** Paths counted under their own name in metrics; anything else counts as "other" (bounded label values). */
  routes?: readonly string[];
}

/**
 * One line and one metric per request: id, method, path (no query), status, key id, ms until the response head (a
 * stream may go on). Never headers, so never a key; `keyId` is the key's id (a name or a SHA-256 prefix).
 */
export function accessLog(options: AccessLogOptions): MiddlewareHandler<GatewayEnv> {
  const { logger } = options;
  const metrics = options.metrics ?? noMetrics;
  const routes = new Set(options.routes ?? []);
  return async function accessLog(c, next) {
    const start = performance.now();
    await next();
    const path = c.req.path;
    const keyId = c.get("apiKeyId") ?? undefined;
    const status = c.res.status;
    metrics.request(routes.has(path) ? path : "other", status, keyId ?? "anonymous");
    logger.info("request", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path,
      status,
      ms: Math.round((performance.now() - start) * 100) / 100,
      keyId,
    });
  };
}
