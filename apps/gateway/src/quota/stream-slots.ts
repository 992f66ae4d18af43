import type { MiddlewareHandler } from "hono";
import { noMetrics } from "../metrics/metrics.ts";
import type { GatewayEnv } from "../types.ts";
import type { Quota } from "./quota-store.ts";
import { tooManyRequests } from "./rate-limit-fields.ts";
import { guarded, type RateLimitOptions } from "./rate-limit.ts";

/**
 * The concurrent-stream slot of a streamed request: taken before forwarding, freed when the stream ends (the forwarder
 * calls `releaseStream`) or at once when the request fails before streaming. With Redis the count is shared; it is a
 * lease that expires after `leaseSec`, so a gateway that dies with streams open cannot hold their slots for ever.
 */
export function streamSlots(options: RateLimitOptions & { leaseSec: number }): MiddlewareHandler<GatewayEnv> {
  const { store } = options;
  const metrics = options.metrics ?? noMetrics;
  return async function streamSlots(c, next) {
    const principal = c.get("principal");
    const limit = principal.policy.concurrentStreams;
    if (!c.get("shaped").stream || limit <= 0) return next();

    const quota: Quota = { name: "streams", limit, windowSec: options.leaseSec };
    const state = await guarded(store.consume(quota, principal.id));
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      store.release(quota, principal.id).catch((err: unknown) => options.logger?.warn("stream slot not released", { err }));
    };
    if (!state.allowed) {
      release(); // the refused attempt was counted: give it back
      metrics.rateLimited("streams");
      throw tooManyRequests(quota, { ...state, remaining: 0, resetMs: 1000 }, "Too many concurrent streams for this key; retry when one ends.");
    }
    c.set("releaseStream", release);
    try {
      await next();
    } finally {
      // A response that is not a live stream (an error, a JSON answer) frees the slot now; a stream frees it at its end.
      if (!c.res.headers.get("content-type")?.startsWith("text/event-stream")) release();
    }
  };
}
