import { ApiError } from "@slm/config";
import type { Handler } from "hono";
import { timingSafeEqualHex } from "../keys/api-key.ts";
import type { GatewayEnv } from "../types.ts";
import type { MetricsEndpoint } from "./metrics.ts";

/**
 * GET /metrics in the Prometheus text format. On the public listener it requires `Authorization: Bearer <token>`
 * (GATEWAY_METRICS_TOKEN) and is a 404 without one: a peer address proves nothing behind a reverse proxy or sidecar on
 * the same host, where every client is loopback. `open` serves it to anyone: only for the dedicated listener
 * (GATEWAY_METRICS_PORT), which binds 127.0.0.1.
 */
export interface MetricsRouteOptions {
  endpoint: MetricsEndpoint;
  token?: string | undefined;
  open?: boolean;
}
const encoder = new TextEncoder();
const hex = (s: string) => Array.from(encoder.encode(s), (b) => b.toString(16).padStart(2, "0")).join("");

export function metricsRoute(options: MetricsRouteOptions): Handler<GatewayEnv> {
  const expected = options.token === undefined ? undefined : hex(`Bearer ${options.token}`);
  return async function metrics(c) {
    const allowed =
      options.open === true ||
      (expected !== undefined && timingSafeEqualHex(hex(c.req.header("authorization") ?? ""), expected));
    if (!allowed) throw new ApiError(404, "invalid_request_error", "unknown_url", "Unknown request URL.");
    return new Response(await options.endpoint.render(), {
      headers: { "content-type": options.endpoint.contentType, "cache-control": "no-store" },
    });
  };
}
