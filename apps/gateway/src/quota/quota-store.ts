import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Logger } from "../logger.ts";
import { noMetrics, type GatewayMetrics, type RateLimitReason } from "../metrics/metrics.ts";

/**
 * Quota counters on rate-limiter-flexible: in memory by default, in Redis when a client is given, so that every
 * gateway replica using the same Redis and prefix draws from one quota. Fixed windows per (quota, key).
 *
 * When Redis fails a call, the configured policy applies: "open" goes on with a local in-memory limiter of the same
 * shape (each replica then enforces the quota on its own), "closed" refuses the request (503). rate-limiter-flexible's
 * own `insuranceLimiter` does the former silently; here it is done by hand so that every failure is counted and each
 * up/down transition is logged.
 */

export interface Quota {
  name: RateLimitReason;
  /** Points per window (requests, tokens, streams). */
  limit: number;
  windowSec: number;
}

export interface QuotaState {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

export interface QuotaStore {
  /** Takes `points`; not allowed once the window's total exceeds the limit. */
  consume(quota: Quota, key: string, points?: number): Promise<QuotaState>;
  /** The state without taking anything: allowed while less than the limit is used. */
  peek(quota: Quota, key: string): Promise<QuotaState>;
  /** Adds points after the fact (tokens once usage is known); never refuses. */
  add(quota: Quota, key: string, points: number): Promise<void>;
  /** Gives points back (a stream ended). */
  release(quota: Quota, key: string, points?: number): Promise<void>;
  /** True when backed by Redis. */
  readonly shared: boolean;
}

export class QuotaStoreUnavailableError extends Error {
  override readonly name = "QuotaStoreUnavailableError";
  readonly code = "quota_store_unavailable";
  constructor(options?: ErrorOptions) {
    super("the shared quota store is unavailable", options);
  }
}

export interface QuotaStoreOptions {
  /** A connected ioredis client. Omit for in-memory quotas (one process). */
  redis?: object;
  /** Key prefix in Redis; use one per deployment (and per test run). */
  prefix?: string;
  /** What to do when Redis fails. Default "open". */
  failure?: "open" | "closed";
  logger?: Logger;
  metrics?: GatewayMetrics;
}

interface Limiters {
  primary: RateLimiterAbstract;
  local: RateLimiterMemory | undefined;
}

function toState(quota: Quota, res: RateLimiterRes, allowed: boolean): QuotaState {
  return { allowed, limit: quota.limit, remaining: Math.max(0, quota.limit - res.consumedPoints), resetMs: Math.max(0, res.msBeforeNext) };
}

export function createQuotaStore(options: QuotaStoreOptions = {}): QuotaStore {
  const prefix = options.prefix ?? "slm-gateway";
  const failure = options.failure ?? "open";
  const metrics = options.metrics ?? noMetrics;
  const redis = options.redis;
  const limiters = new Map<string, Limiters>();
  let storeUp = true;

  function limitersFor(quota: Quota): Limiters {
    const id = `${quota.name}:${quota.limit}:${quota.windowSec}`;
    let pair = limiters.get(id);
    if (pair === undefined) {
      // The limit is not part of the Redis key: replicas (or a reload) with another limit still count in one bucket.
      const shape = { points: quota.limit, duration: quota.windowSec, keyPrefix: `${prefix}:${quota.name}` };
      pair = redis
        ? {
            primary: new RateLimiterRedis({ ...shape, storeClient: redis, rejectIfRedisNotReady: true }),
            local: new RateLimiterMemory(shape),
          }
        : { primary: new RateLimiterMemory(shape), local: undefined };
      limiters.set(id, pair);
    }
    return pair;
  }

  function markUp(): void {
    if (storeUp) return;
    storeUp = true;
    metrics.quotaStoreUp(true);
    options.logger?.warn("quota store reachable again: quotas are shared again");
  }

  function markDown(err: unknown): void {
    metrics.quotaStore("error");
    if (!storeUp) return;
    storeUp = false;
    metrics.quotaStoreUp(false);
    options.logger?.error(
      failure === "open"
        ? "quota store unreachable: failing open, each gateway enforces quotas on its own until it is back"
        : "quota store unreachable: failing closed, requests are refused until it is back",
      { err, policy: failure },
    );
  }

  /** Runs `op` on the shared limiter; on a store failure applies the policy. A RateLimiterRes rejection passes through. */
  async function run<T>(quota: Quota, op: (limiter: RateLimiterAbstract) => Promise<T>): Promise<T> {
    const { primary, local } = limitersFor(quota);
    if (local === undefined) return op(primary);
    try {
      const result = await op(primary);
      markUp();
      return result;
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        markUp();
        throw err;
      }
      markDown(err);
      if (failure === "closed") {
        metrics.quotaStore("fail_closed");
        throw new QuotaStoreUnavailableError({ cause: err });
      }
      metrics.quotaStore("fail_open");
      return op(local);
    }
  }

  return {
    shared: redis !== undefined,
    async consume(quota, key, points = 1) {
      try {
        const res = await run(quota, (l) => l.consume(key, points));
        return toState(quota, res, true);
      } catch (err) {
        if (err instanceof RateLimiterRes) return toState(quota, err, false);
        throw err;
      }
    },
    async peek(quota, key) {
      const res = await run(quota, (l) => l.get(key));
      if (res === null) return { allowed: true, limit: quota.limit, remaining: quota.limit, resetMs: quota.windowSec * 1000 };
      return toState(quota, res, res.consumedPoints < quota.limit);
    },
    async add(quota, key, points) {
      if (points <= 0) return;
      await run(quota, (l) => l.penalty(key, Math.ceil(points)));
    },
    async release(quota, key, points = 1) {
      await run(quota, (l) => l.reward(key, points));
    },
  };
}
