import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createQuotaStore } from "../src/quota/quota-store.ts";
import { releasedLeaseIsNeverRenewed, straddlingStreamKeepsItsSlot } from "./support/stream-lease-scenario.ts";
import { startGateway, stopAll, until } from "./support/gateway-process.ts";
import { startStubInference, type StubInference } from "./support/stub-inference.ts";

/**
 * Quotas shared through the Redis on 127.0.0.1:6379 (scripts/setup.sh starts it): two gateway processes enforce one
 * quota. Each run uses its own key prefix and deletes its keys afterwards. Also the failure policies, against a
 * Redis address where nothing listens.
 */

const REDIS_URL = "redis://127.0.0.1:6379";
const PREFIX = `slm-test-${randomBytes(6).toString("hex")}`;
const KEY = "sk-shared-quota-0123456789ab";
let stub: StubInference;
let redis: Redis;

beforeAll(async () => {
  stub = await startStubInference();
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect(); // fails the suite if Redis is not there: these tests are about it
});

afterAll(async () => {
  await stopAll();
  await stub?.close();
  if (redis) {
    const keys = await redis.keys(`${PREFIX}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

describe("quotas shared through Redis", () => {
  it("stream leases are a shared semaphore: held across what used to be a window, freed once, expired when a holder dies", async () => {
    const one = createQuotaStore({ redis, prefix: PREFIX, failure: "closed" });
    const two = createQuotaStore({ redis, prefix: PREFIX, failure: "closed" });
    await straddlingStreamKeepsItsSlot(one, "lease-key");
    await releasedLeaseIsNeverRenewed(one, "renewed-key");
    // Two gateways draw from one pool of leases.
    const held = await one.acquireLease("streams", "pool", 2, 60_000);
    expect((await two.acquireLease("streams", "pool", 2, 60_000)).allowed).toBe(true);
    expect((await two.acquireLease("streams", "pool", 2, 60_000)).allowed).toBe(false);
    await one.releaseLease("streams", "pool", held.lease);
    expect((await two.acquireLease("streams", "pool", 2, 60_000)).allowed).toBe(true);
  });

  it("token reservations are atomic across gateways: a burst never takes more than the limit", async () => {
    const one = createQuotaStore({ redis, prefix: PREFIX, failure: "closed" });
    const two = createQuotaStore({ redis, prefix: PREFIX, failure: "closed" });
    const tokens = { name: "tokens", limit: 300, windowSec: 60 } as const;
    const states = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one : two).reserve(tokens, "burst", 120)),
    );
    expect(states.filter((s) => s.allowed)).toHaveLength(2);
    // A refusal took nothing; the counter is rate-limiter-flexible's own (peek, add and release see it).
    expect(await one.peek(tokens, "burst")).toMatchObject({ remaining: 60 });
    await two.release(tokens, "burst", 120);
    expect(await one.reserve(tokens, "burst", 180)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await redis.pttl(`${PREFIX}:tokens:burst`)).toBeGreaterThan(50_000);
  });

  it("requests in flight are one pool per key across gateways", async () => {
    const one = createQuotaStore({ redis, prefix: PREFIX, failure: "closed" });
    const two = createQuotaStore({ redis, prefix: PREFIX, failure: "closed" });
    const taken = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? one : two).acquireLease("inflight", "heavy", 8, 60_000)),
    );
    expect(taken.filter((t) => t.allowed)).toHaveLength(8);
    expect((await one.acquireLease("inflight", "light", 8, 60_000)).allowed).toBe(true);
    for (const t of taken.filter((t) => t.allowed)) await two.releaseLease("inflight", "heavy", t.lease);
    expect(await redis.zcard(`${PREFIX}:lease:inflight:heavy`)).toBe(0);
  });

  it("two gateway processes allow N requests in total, not N each", async () => {
    const N = 5;
    const env = {
      INFERENCE_URL: stub.url,
      GATEWAY_API_KEYS: KEY,
      REDIS_URL,
      GATEWAY_REDIS_PREFIX: PREFIX,
      GATEWAY_REQUESTS_PER_MINUTE: String(N),
    };
    const [one, two] = await Promise.all([startGateway(env), startGateway(env)]);
    expect(one.logs().find((l) => l["msg"] === "listening")).toMatchObject({
      quotaStore: "redis",
      redisFailure: "open",
    });

    const statuses: number[] = [];
    for (let i = 0; i < 2 * N; i++) {
      const gw = i % 2 === 0 ? one : two;
      const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(N);
    expect(statuses.filter((s) => s === 429)).toHaveLength(N);
    expect(statuses.slice(0, N).every((s) => s === 200)).toBe(true);
    // The counter lives in Redis, under this run's prefix.
    expect(await redis.keys(`${PREFIX}:requests:*`)).toHaveLength(1);
  }, 60_000);
});

describe("Redis unreachable", () => {
  const unreachable = "redis://127.0.0.1:1"; // nothing listens on port 1

  it("fails closed when configured to: 503, said in the logs and metrics", async () => {
    const gw = await startGateway({
      INFERENCE_URL: stub.url,
      GATEWAY_API_KEYS: KEY,
      REDIS_URL: unreachable,
      GATEWAY_REDIS_FAILURE: "closed",
    });
    const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe("rate_limiter_unavailable");
    await until(() =>
      gw
        .logs()
        .some((l) => l["msg"] === "quota store unreachable: failing closed, requests are refused until it is back"),
    );
    const metrics = await (await gw.metrics()).text();
    expect(metrics).toMatch(/gateway_quota_store_events_total\{event="fail_closed"\} [1-9]/);
    expect(metrics).toContain("gateway_quota_store_up 0");
  }, 30_000);

  it("fails open by default with a local limiter: requests go on, still limited, said in the logs and metrics", async () => {
    const gw = await startGateway({
      INFERENCE_URL: stub.url,
      GATEWAY_API_KEYS: KEY,
      REDIS_URL: unreachable,
      GATEWAY_REQUESTS_PER_MINUTE: "2",
    });
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).status);
    expect(statuses).toEqual([200, 200, 429]);
    await until(() =>
      gw
        .logs()
        .some(
          (l) =>
            typeof l["msg"] === "string" && (l["msg"] as string).startsWith("quota store unreachable: failing open"),
        ),
    );
    const metrics = await (await gw.metrics()).text();
    expect(metrics).toMatch(/gateway_quota_store_events_total\{event="fail_open"\} [1-9]/);
    expect(gw.lines.join("\n")).not.toContain("127.0.0.1:1");
  }, 30_000);
});
