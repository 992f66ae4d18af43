import type { MiddlewareHandler } from "hono";
import { noMetrics } from "../metrics/metrics.ts";
import type { GatewayEnv } from "../types.ts";
import type { Quota } from "./quota-store.ts";
import { tooManyRequests } from "./rate-limit-fields.ts";
import { guarded, type RateLimitOptions } from "./rate-limit.ts";

/**
 * Requests in flight per principal (`policy.concurrentRequests`, default GATEWAY_KEY_MAX_INFLIGHT), JSON and streams
 * alike: a lease taken before forwarding and given back when the request ends, however it ends - its answer sent, its
 * stream ended, its client gone at any moment (through the request's scope, request-scope.ts). A semaphore like the
 * stream slots (quota-store.ts's leases: shared through Redis when configured, in memory otherwise), so one key can
 * never have more than its share waiting on inference: a heavy key's backlog is its own 429 with Retry-After, and
 * inference's queue (MAX_QUEUE per replica) no longer fills up from one key - another key's request finds room and,
 * with inference serving principals in turn (the `X-Slm-Principal` header), the next free slot.
 *
 * A lease expires `leaseSec` after it was taken (the upstream timeout plus a margin: no request outlives its
 * deadline), so a gateway that dies with requests in flight gives them back by expiry; no renewal is needed.
 */

export const INFLIGHT_LEASE = "inflight";

export function inflightRequests(options: RateLimitOptions & { leaseSec: number }): MiddlewareHandler<GatewayEnv> {
  const { store } = options;
  const metrics = options.metrics ?? noMetrics;
  const ttlMs = options.leaseSec * 1000;
  return async function inflightRequests(c, next) {
    const principal = c.get("principal");
    const limit = principal.policy.concurrentRequests;
    if (!(limit > 0)) return next();

    const scope = c.get("scope");
    const state = await guarded(store.acquireLease(INFLIGHT_LEASE, principal.id, limit, ttlMs));
    if (!state.allowed) {
      metrics.rateLimited("inflight");
      const quota: Quota = { name: "inflight", limit, windowSec: options.leaseSec };
      throw tooManyRequests(
        quota,
        { allowed: false, limit, remaining: 0, resetMs: 1000 },
        `Too many requests in flight for this key (the limit is ${limit} at once); retry when one ends.`,
      );
    }
    metrics.leasesHeld(INFLIGHT_LEASE, 1);
    // No await between taking the lease and handing it to the scope: it runs at once if the client already left.
    scope.defer(() => {
      metrics.leasesHeld(INFLIGHT_LEASE, -1);
      store
        .releaseLease(INFLIGHT_LEASE, principal.id, state.lease)
        .catch((err: unknown) => options.logger?.warn("in-flight slot not released", { err }));
    });
    scope.throwIfGone();
    return next();
  };
}
