import type { MiddlewareHandler } from "hono";
import { noMetrics } from "../metrics/metrics.ts";
import type { GatewayEnv } from "../types.ts";
import type { Quota } from "./quota-store.ts";
import { tooManyRequests } from "./rate-limit-fields.ts";
import { guarded, type RateLimitOptions } from "./rate-limit.ts";

/**
 * The concurrent-stream slot of a streamed request: a lease taken before forwarding and given back when the request
 * ends, through its scope (request-scope.ts): when the stream ends, when the request fails before streaming, or when
 * the client goes - even while this awaited the store, in which case the lease is given back the moment it arrives.
 * A semaphore, not a rate window: it counts streams open now, whatever their age. With Redis the leases are shared;
 * each expires `leaseSec` after it was taken or last renewed. It is renewed only while its request lives (the renewal
 * timer is stopped by the release, and a renewal the store refuses - the lease expired or was released - stops it
 * too), so a gateway that dies with streams open gives their slots back by expiry, and a stream that is gone never
 * keeps one.
 */
export function streamSlots(options: RateLimitOptions & { leaseSec: number }): MiddlewareHandler<GatewayEnv> {
  const { store } = options;
  const metrics = options.metrics ?? noMetrics;
  const ttlMs = options.leaseSec * 1000;
  return async function streamSlots(c, next) {
    const principal = c.get("principal");
    const limit = principal.policy.concurrentStreams;
    if (!c.get("shaped").stream || limit <= 0) return next();

    const scope = c.get("scope");
    const state = await guarded(store.acquireLease("streams", principal.id, limit, ttlMs));
    if (!state.allowed) {
      metrics.rateLimited("streams");
      const quota: Quota = { name: "streams", limit, windowSec: options.leaseSec };
      throw tooManyRequests(
        quota,
        { allowed: false, limit, remaining: 0, resetMs: 1000 },
        `Too many concurrent streams for this key (the limit is ${limit} at once); retry when one ends.`,
      );
    }
    metrics.leasesHeld("streams", 1);
    const renew = setInterval(
      () => {
        store.renewLease("streams", principal.id, state.lease, ttlMs).then(
          (renewed) => {
            if (!renewed) clearInterval(renew); // expired or released meanwhile: nothing to keep alive
          },
          (err: unknown) => options.logger?.warn("stream slot not renewed", { err }),
        );
      },
      Math.max(1000, ttlMs / 3),
    );
    (renew as { unref?: () => void }).unref?.();
    // No await between taking the lease and handing it to the scope: it runs at once if the client already left.
    scope.defer(() => {
      clearInterval(renew);
      metrics.leasesHeld("streams", -1);
      store
        .releaseLease("streams", principal.id, state.lease)
        .catch((err: unknown) => options.logger?.warn("stream slot not released", { err }));
    });
    scope.throwIfGone();
    return next();
  };
}
