import { SafeError } from "@slm/config";
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
  /**
   * Takes `points` only if the window's total stays within the limit; a refusal takes nothing (a token reservation:
   * `max_tokens` x `n` plus the prompt, which must fit whole). Atomic: concurrent reservations never overshoot.
   */
  reserve(quota: Quota, key: string, points: number): Promise<QuotaState>;
  /** The state without taking anything: allowed while less than the limit is used. */
  peek(quota: Quota, key: string): Promise<QuotaState>;
  /** Adds points after the fact (tokens once usage is known); never refuses. */
  add(quota: Quota, key: string, points: number): Promise<void>;
  /** Gives points back. */
  release(quota: Quota, key: string, points?: number): Promise<void>;
  /**
   * A semaphore, not a window: takes one of `limit` leases of `key` (open streams), each valid for `ttlMs` unless
   * renewed or released. A gateway that dies with leases held loses them by expiry; nothing ever resets the count
   * while leases are held, and a release never frees more than it took.
   */
  acquireLease(
    name: string,
    key: string,
    limit: number,
    ttlMs: number,
  ): Promise<{ allowed: boolean; held: number; lease: string }>;
  /**
   * Extends a held lease by `ttlMs` from now (a long stream). Refuses (false) a lease that is not held any more -
   * released, expired, or never taken - so a renewal can never bring a slot back.
   */
  renewLease(name: string, key: string, lease: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, key: string, lease: string): Promise<void>;
  /** True when backed by Redis. */
  readonly shared: boolean;
}

export class QuotaStoreUnavailableError extends SafeError {
  override readonly name = "QuotaStoreUnavailableError";
  readonly code = "quota_store_unavailable";
  constructor(options?: ErrorOptions) {
    super("the shared quota store is unavailable", options);
  }
}

/** The part of an ioredis client the leases use (scripts run atomically on the server). */
interface ScriptClient {
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
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
  return {
    allowed,
    limit: quota.limit,
    remaining: Math.max(0, quota.limit - res.consumedPoints),
    resetMs: Math.max(0, res.msBeforeNext),
  };
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

  // Reservations: check and take as one step. In Redis a script on rate-limiter-flexible's own counter (same key,
  // same shape: an integer with the window as its expiry); in memory, one reservation at a time per counter.
  const reserving = new Map<string, Promise<unknown>>();

  function reserveInMemory(limiter: RateLimiterMemory, quota: Quota, key: string, points: number) {
    const id = `${limiter.keyPrefix}:${key}`;
    const previous = reserving.get(id) ?? Promise.resolve();
    const step = previous.then(async (): Promise<QuotaState> => {
      const res = await limiter.get(key);
      const used = res?.consumedPoints ?? 0;
      if (used + points > quota.limit) {
        const resetMs = res === null ? quota.windowSec * 1000 : res.msBeforeNext;
        return { allowed: false, limit: quota.limit, remaining: Math.max(0, quota.limit - used), resetMs };
      }
      if (points === 0) return toState(quota, res ?? new RateLimiterRes(quota.limit, quota.windowSec * 1000, 0), true);
      return toState(quota, await limiter.penalty(key, points), true);
    });
    const settled = step.catch(() => undefined);
    reserving.set(id, settled);
    void settled.then(() => {
      if (reserving.get(id) === settled) reserving.delete(id);
    });
    return step;
  }

  async function reserveInRedis(quota: Quota, key: string, points: number): Promise<QuotaState> {
    const client = redis as ScriptClient;
    const [taken, used, ttl] = (await client.eval(
      RESERVE,
      1,
      `${prefix}:${quota.name}:${key}`,
      points,
      quota.windowSec,
      quota.limit,
    )) as [number, number, number];
    return {
      allowed: taken === 1,
      limit: quota.limit,
      remaining: Math.max(0, quota.limit - used),
      resetMs: Math.max(0, ttl),
    };
  }

  // Leases: a sorted set per key in Redis (member = lease id, score = expiry in ms), changed only by these scripts,
  // so that counting, expiring and adding happen as one step; in memory, the same shape in a Map.
  const localLeases = new Map<string, Map<string, number>>();
  const leaseKey = (name: string, key: string) => `${prefix}:lease:${name}:${key}`;

  function localAcquire(id: string, limit: number, ttlMs: number, lease: string) {
    const now = Date.now();
    let held = localLeases.get(id);
    if (!held) localLeases.set(id, (held = new Map()));
    for (const [l, expiry] of held) if (expiry <= now) held.delete(l);
    if (held.size >= limit) return { allowed: false, held: held.size, lease };
    held.set(lease, now + ttlMs);
    return { allowed: true, held: held.size, lease };
  }

  /** Runs a lease script on Redis with the failure policy; `fallback` is the in-memory equivalent. */
  async function leaseOp<T>(redisOp: (client: ScriptClient) => Promise<T>, fallback: () => T): Promise<T> {
    if (!redis) return fallback();
    try {
      const result = await redisOp(redis as ScriptClient);
      markUp();
      return result;
    } catch (err) {
      markDown(err);
      if (failure === "closed") {
        metrics.quotaStore("fail_closed");
        throw new QuotaStoreUnavailableError({ cause: err });
      }
      metrics.quotaStore("fail_open");
      return fallback();
    }
  }

  return {
    shared: redis !== undefined,
    async acquireLease(name, key, limit, ttlMs) {
      const lease = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
      const id = leaseKey(name, key);
      return leaseOp(
        async (client) => {
          const [allowed, held] = (await client.eval(ACQUIRE_LEASE, 1, id, Date.now(), ttlMs, limit, lease)) as [
            number,
            number,
          ];
          return { allowed: allowed === 1, held, lease };
        },
        () => localAcquire(id, limit, ttlMs, lease),
      );
    },
    async renewLease(name, key, lease, ttlMs) {
      const id = leaseKey(name, key);
      return leaseOp(
        async (client) => {
          const now = Date.now();
          return (await client.eval(RENEW_LEASE, 1, id, now + ttlMs, lease, ttlMs, now)) === 1;
        },
        () => {
          const held = localLeases.get(id);
          const expiry = held?.get(lease);
          if (held !== undefined && expiry !== undefined && expiry > Date.now()) {
            held.set(lease, Date.now() + ttlMs);
            return true;
          }
          // In memory, a lease not held is refused. Standing in for an unreachable Redis, a lease taken there is
          // unknown here: not a refusal (renewal goes on, and counts again once Redis is back).
          return redis !== undefined;
        },
      );
    },
    async releaseLease(name, key, lease) {
      const id = leaseKey(name, key);
      await leaseOp(
        async (client) => void (await client.eval(RELEASE_LEASE, 1, id, lease)),
        () => {
          const held = localLeases.get(id);
          held?.delete(lease);
          if (held?.size === 0) localLeases.delete(id);
        },
      );
    },
    async consume(quota, key, points = 1) {
      try {
        const res = await run(quota, (l) => l.consume(key, points));
        return toState(quota, res, true);
      } catch (err) {
        if (err instanceof RateLimiterRes) return toState(quota, err, false);
        throw err;
      }
    },
    async reserve(quota, key, points) {
      const taken = Math.max(0, Math.ceil(points));
      return run(quota, (limiter) =>
        limiter instanceof RateLimiterMemory
          ? reserveInMemory(limiter, quota, key, taken)
          : reserveInRedis(quota, key, taken),
      );
    },
    async peek(quota, key) {
      const res = await run(quota, (l) => l.get(key));
      if (res === null)
        return { allowed: true, limit: quota.limit, remaining: quota.limit, resetMs: quota.windowSec * 1000 };
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

/**
 * KEYS[1] a rate-limiter-flexible counter; ARGV points, window s, limit. Takes the points when they fit; returns
 * {taken, used after, ms to the window's end}. A counter without an expiry gets the window's (as the library does).
 */
const RESERVE = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local points = tonumber(ARGV[1])
if used + points > tonumber(ARGV[3]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = 1000 * tonumber(ARGV[2]) end
  return {0, used, ttl}
end
redis.call('SET', KEYS[1], 0, 'EX', ARGV[2], 'NX')
used = redis.call('INCRBY', KEYS[1], points)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  ttl = 1000 * tonumber(ARGV[2])
end
return {1, used, ttl}`;

/** KEYS[1] lease set; ARGV now, ttl ms, limit, lease id. Drops expired leases, then adds one if under the limit. */
const ACQUIRE_LEASE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[3]) then return {0, held} end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, held + 1}`;

/**
 * KEYS[1] lease set; ARGV new expiry, lease id, ttl ms, now. Only a lease still held - present and not expired - is
 * extended (1); anything else is refused (0), never re-added.
 */
const RENEW_LEASE = `
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[2])
if expiry and tonumber(expiry) > tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0`;

/** KEYS[1] lease set; ARGV lease id. */
const RELEASE_LEASE = `return redis.call('ZREM', KEYS[1], ARGV[1])`;
