import { ApiError } from "@slm/config";
import type { Context, Handler } from "hono";
import { timingSafeEqualHex } from "../keys/api-key.ts";
import type { GatewayEnv } from "../types.ts";
import type { MetricsEndpoint } from "./metrics.ts";

/**
 * GET /metrics in the Prometheus text format. With a token configured, it requires `Authorization: Bearer <token>`;
 * without one, only loopback clients get it (a scraper beside the gateway), never the public.
 */
export interface MetricsRouteOptions {
  endpoint: MetricsEndpoint;
  token?: string | undefined;
  clientIp: (c: Context<GatewayEnv>) => string;
}

const LOOPBACK = /^(?:127\.|::1$|::ffff:127\.)/;
const encoder = new TextEncoder();
const hex = (s: string) => Array.from(encoder.encode(s), (b) => b.toString(16).padStart(2, "0")).join("");

export function metricsRoute(options: MetricsRouteOptions): Handler<GatewayEnv> {
  const expected = options.token === undefined ? undefined : hex(`Bearer ${options.token}`);
  return async function metrics(c) {
    const allowed =
      expected === undefined ? LOOPBACK.test(options.clientIp(c)) : timingSafeEqualHex(hex(c.req.header("authorization") ?? ""), expected);
    if (!allowed) throw new ApiError(404, "invalid_request_error", "unknown_url", "Unknown request URL.");
    return new Response(await options.endpoint.render(), {
      headers: { "content-type": options.endpoint.contentType, "cache-control": "no-store" },
    });
  };
}
