import type { Handler } from "hono";
import type { GatewayEnv } from "../types.ts";

/** Liveness and readiness. Both are unauthenticated (probes), so they answer with a status word and nothing else. */

export function health(): Handler<GatewayEnv> {
  return function health(c) {
    c.header("Cache-Control", "no-store");
    return c.json({ status: "ok" }, 200);
  };
}

/** What a readiness probe of inference found: its HTTP status, or null when it could not be reached. */
export type Probe = () => Promise<number | null>;

export interface ReadinessOptions {
  probe: Probe;
}

/** 200 `{status:"ready"}` when inference's /ready answers 2xx; otherwise 503, never with inference's body. */
export function readiness(options: ReadinessOptions): Handler<GatewayEnv> {
  return async function readiness(c) {
    c.header("Cache-Control", "no-store");
    const status = await options.probe();
    if (status === null) return c.json({ status: "unavailable" }, 503);
    if (status >= 200 && status < 300) return c.json({ status: "ready" }, 200);
    return c.json({ status: "not_ready" }, 503);
  };
}
