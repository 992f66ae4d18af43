import type { MiddlewareHandler } from "hono";
import { noMetrics } from "../metrics/metrics.ts";
import type { GatewayEnv } from "../types.ts";
import type { Quota } from "./quota-store.ts";
import { tooManyRequests } from "./rate-limit-fields.ts";
import { guarded, type RateLimitOptions } from "./rate-limit.ts";

/**
 * The concurrent-stream slot of a streamed request: a lease taken before forwarding, released when the stream ends
 * (the forwarder calls `releaseStream`) or at once when the request fails before streaming. A semaphore, not a rate
 * window: it counts streams open now, whatever their age. With Redis the leases are shared; each expires `leaseSec`
 * after it was taken or last renewed (renewed while the stream lasts), so a gateway that dies with streams open
 * gives their slots back by expiry.
 */
export function streamSlots(options: RateLimitOptions & { leaseSec: number }): MiddlewareHandler<GatewayEnv> {
  const { store } = options;
  const metrics = options.metrics ?? noMetrics;
  const ttlMs = options.leaseSec * 1000;
  return async function streamSlots(c, next) {
    const principal = c.get("principal");
    const limit = principal.policy.concurrentStreams;
    if (!c.get("shaped").stream || limit <= 0) return next();

    const state = await guarded(store.acquireLease("streams", principal.id, limit, ttlMs));
    if (!state.allowed) {
      metrics.rateLimited("streams");
      const quota: Quota = { name: "streams", limit, windowSec: options.leaseSec };
      throw tooManyRequests(
        quota,
        { allowed: false, limit, remaining: 0, resetMs: 1000 },
        "Too many concurrent streams for this key; retry when one ends.",
      );
    }
    let held = true;
    const renew = setInterval(
      () => {
        store
          .renewLease("streams", principal.id, state.lease, ttlMs)
          .catch((err: unknown) => options.logger?.warn("stream slot not renewed", { err }));
      },
      Math.max(1000, ttlMs / 3),
    );
    (renew as { unref?: () => void }).unref?.();
    const release = () => {
      if (!held) return;
      held = false;
      clearInterval(renew);
      store
        .releaseLease("streams", principal.id, state.lease)
        .catch((err: unknown) => options.logger?.warn("stream slot not released", { err }));
    };
    c.set("releaseStream", release);
    try {
      await next();
    } finally {
      // A response that is not a live stream (an error, a JSON answer) frees the slot now; a stream frees it at its end.
      if (!c.res.headers.get("content-type")?.startsWith("text/event-stream")) release();
    }
  };
}
