import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../logger.ts";
import { createAffinityMemory } from "./affinity-memory.ts";
import { createReplicaPool } from "./replica-pool.ts";
import { unreachableRedis } from "../../test/support/unreachable-redis.ts";

/**
 * The affinity memory: in process (TTL, bound), and shared through the Redis on 127.0.0.1:6379 (scripts/setup.sh
 * starts it) between two pools - two gateways - under a prefix of this run's own, deleted afterwards. A Redis that
 * is down or hangs never stops a request from being routed.
 */

const REDIS_URL = "redis://127.0.0.1:6379";
const PREFIX = `slm-test-affinity-${randomBytes(6).toString("hex")}`;
const URLS = ["http://replica-a.internal:8081", "http://replica-b.internal:8081", "http://replica-c.internal:8081"];
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect(); // fails the suite if Redis is not there: these tests are about it
});

afterAll(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

async function until(check: () => Promise<boolean>, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("affinity memory in process", () => {
  it("forgets an entry after its TTL and the least recently used beyond its bound", async () => {
    let now = 0;
    const memory = createAffinityMemory({ ttlMs: 1000, maxKeys: 2, now: () => now });
    memory.remember("a", "r1");
    memory.remember("b", "r2");
    now = 999;
    expect(await memory.recall("a")).toBe("r1");
    memory.remember("a", "r3"); // used again: b is now the least recently used, and a lives 1000 ms from now
    memory.remember("c", "r1");
    expect(await memory.recall("b")).toBeUndefined();
    now = 1998;
    expect(await memory.recall("a")).toBe("r3");
    now = 1999;
    expect(await memory.recall("a")).toBeUndefined();
    expect(memory.shared).toBe(false);
  });
});

describe("affinity memory shared through Redis", () => {
  it("sends a spilled conversation to the same replica from another gateway", async () => {
    const key = `conversation-${randomBytes(4).toString("hex")}`;
    const pool = (urls: string[]) =>
      createReplicaPool({
        urls,
        affinity: { spill: 1, memory: createAffinityMemory({ redis, prefix: PREFIX, ttlMs: 60_000 }) },
      });
    const one = pool(URLS);
    const two = pool([...URLS].reverse());
    const home = (await one.acquireFor(key))!;
    // Its home has one request in flight, the others none: with spill 1 it is saturated.
    const spilled = (await one.acquireFor(key))!;
    expect(spilled.url).not.toBe(home.url);
    one.release(home);
    one.release(spilled);
    await until(async () => (await redis.get(`${PREFIX}:affinity:${key}`)) !== null);
    // Stored: the replica's id, never its address, under a TTL.
    expect(await redis.get(`${PREFIX}:affinity:${key}`)).toBe(spilled.id);
    expect(await redis.pttl(`${PREFIX}:affinity:${key}`)).toBeGreaterThan(50_000);
    // Another gateway (its URLs in another order) follows the conversation, idle replicas or not.
    expect((await two.acquireFor(key))!.url).toBe(spilled.url);
    // A gateway with the memory in process only would have sent it home.
    const local = createReplicaPool({ urls: URLS, affinity: { memory: createAffinityMemory() } });
    expect((await local.acquireFor(key))!.url).toBe(home.url);
  });

  it("routes by hashing (and its own memory) when Redis is down or hangs, logging it once", async () => {
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    const down = unreachableRedis();
    const hanging = { get: () => new Promise<never>(() => {}), set: () => new Promise<never>(() => {}) };
    const healthy = createReplicaPool({ urls: URLS, affinity: { memory: createAffinityMemory() } });
    try {
      for (const client of [down, hanging]) {
        const memory = createAffinityMemory({ redis: client, prefix: PREFIX, timeoutMs: 50, logger });
        const pool = createReplicaPool({ urls: URLS, affinity: { spill: 1, memory } });
        for (let i = 0; i < 5; i++) {
          const key = `k${i}`;
          const replica = (await pool.acquireFor(key))!;
          const expected = (await healthy.acquireFor(key))!;
          expect(replica.url).toBe(expected.url);
          pool.release(replica);
          healthy.release(expected);
        }
        // A spill is still remembered by this gateway.
        const held = (await pool.acquireFor("spill"))!;
        const spilled = (await pool.acquireFor("spill"))!;
        expect(spilled).not.toBe(held);
        pool.release(held);
        pool.release(spilled);
        expect((await pool.acquireFor("spill"))!.url).toBe(spilled.url);
      }
    } finally {
      down.disconnect();
    }
    const warnings = lines.filter((line) => line.includes("affinity memory: redis unavailable"));
    expect(warnings).toHaveLength(2); // once per memory
    for (const line of lines) expect(line).not.toContain("127.0.0.1");
  });
});
