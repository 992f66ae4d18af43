import type { Context, MiddlewareHandler } from "hono";
import type { GatewayEnv } from "../types.ts";

/**
 * Response headers decided before the handler runs - the secure headers, the request id, the RateLimit fields - are
 * collected in one plain record (`c.var.responseHeaders`) that whoever builds the response merges in: the relay and
 * the error handler do, in the Response they construct. Setting them on `c.res.headers` afterwards (what Hono's
 * secureHeaders() and most middleware do) turns @hono/node-server's lightweight response into a full one with a
 * Headers object; measured, that was a large share of the gateway's per-request cost. Responses built elsewhere
 * (health, models, the playground) get the record applied after the fact, once, here.
 */

/** Exactly the headers of Hono's `secureHeaders()` with its defaults (a unit test keeps the two equal). */
export const SECURE_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Origin-Agent-Cluster": "?1",
  "Referrer-Policy": "no-referrer",
  "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
  "X-Content-Type-Options": "nosniff",
  "X-DNS-Prefetch-Control": "off",
  "X-Download-Options": "noopen",
  "X-Frame-Options": "SAMEORIGIN",
  "X-Permitted-Cross-Domain-Policies": "none",
  "X-XSS-Protection": "0",
};

export function responseHeaders(): MiddlewareHandler<GatewayEnv> {
  return async function responseHeaders(c, next) {
    c.set("responseHeaders", { ...SECURE_HEADERS });
    c.set("headersApplied", false);
    await next();
    if (c.get("headersApplied")) return;
    const target = c.res.headers;
    const record = c.get("responseHeaders");
    for (const name in record) target.set(name, record[name]!);
  };
}

/** Adds the request's decided headers to a header record being built for a Response (they win), and notes it. */
export function withResponseHeaders(c: Context<GatewayEnv>, headers: Record<string, string>): Record<string, string> {
  const record = c.get("responseHeaders");
  if (record === undefined) return headers;
  c.set("headersApplied", true);
  return Object.assign(headers, record);
}
