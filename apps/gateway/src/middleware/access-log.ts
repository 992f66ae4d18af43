import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { METHOD_NAME_ALL } from "hono/router";
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
 * stream may go on). Never headers, so never a key; `keyId` is the key's id (a name or a SHA-256 prefix). The path is
 * the caller's text: it is logged as sent only when it is one of `routes`, else as the route it matched
 * (`/playground/*`) or `unmatched` - never a made-up path.
 */
export function accessLog(options: AccessLogOptions): MiddlewareHandler<GatewayEnv> {
  const { logger } = options;
  const metrics = options.metrics ?? noMetrics;
  const routes = new Set(options.routes ?? []);
  return async function accessLog(c, next) {
    const start = performance.now();
    await next();
    const path = c.req.path;
    const known = routes.has(path);
    const keyId = c.get("apiKeyId") ?? undefined;
    const status = c.res.status;
    metrics.request(known ? path : "other", status, keyId ?? "anonymous");
    logger.info("request", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: known ? path : routeOf(c),
      status,
      ms: Math.round((performance.now() - start) * 100) / 100,
      keyId,
    });
  };
}

/** The pattern of the route that answered (not a middleware's), or `unmatched`. */
function routeOf(c: Context<GatewayEnv>): string {
  return matchedRoutes(c).findLast((route) => route.method !== METHOD_NAME_ALL)?.path ?? "unmatched";
}
