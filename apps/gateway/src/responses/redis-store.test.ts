import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRedisResponseStore } from "./redis-store.ts";
import { ResponseStoreUnavailableError } from "./store.ts";
import { unreachableRedis } from "../../test/support/unreachable-redis.ts";

/** Against the Redis on 127.0.0.1:6379 (scripts/setup.sh starts it); each test its own prefix, its keys deleted. */
const REDIS_URL = "redis://127.0.0.1:6379";
let redis: Redis;
let prefix = "";

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
});
afterEach(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
});
afterAll(() => redis?.disconnect());

const fresh = () => {
  prefix = `slm-test-responses-${randomBytes(6).toString("hex")}`;
  return createRedisResponseStore({ client: redis, prefix });
};

describe("the Redis response store", () => {
  it("sets values with their expiry under its prefix, reads and deletes them", async () => {
    const store = fresh();
    await store.set(
      [
        ["r:owner:resp_1", '{"a":1}'],
        ["i:owner:msg_1", "é€😀"],
      ],
      120,
    );
    expect(await store.get(["r:owner:resp_1", "i:owner:msg_1", "r:owner:none"])).toEqual([
      '{"a":1}',
      "é€😀",
      undefined,
    ]);
    const ttl = await redis.ttl(`${prefix}:responses:r:owner:resp_1`);
    expect(ttl).toBeGreaterThan(110);
    expect(ttl).toBeLessThanOrEqual(120);
    expect(await store.delete(["r:owner:resp_1", "r:owner:none"])).toBe(1);
    expect(await store.get(["r:owner:resp_1"])).toEqual([undefined]);
    expect(await store.get([])).toEqual([]);
  });

  it("expires values", async () => {
    const store = fresh();
    await store.set([["k", "v"]], 1);
    expect(await store.get(["k"])).toEqual(["v"]);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await store.get(["k"])).toEqual([undefined]);
  });

  it("fails as ResponseStoreUnavailableError when Redis cannot be reached", async () => {
    const dead = unreachableRedis();
    const store = createRedisResponseStore({ client: dead, prefix: "unused" });
    await expect(store.get(["k"])).rejects.toBeInstanceOf(ResponseStoreUnavailableError);
    await expect(store.set([["k", "v"]], 10)).rejects.toBeInstanceOf(ResponseStoreUnavailableError);
    dead.disconnect();
  });
});
