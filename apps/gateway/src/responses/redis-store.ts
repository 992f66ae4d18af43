import type { Redis } from "ioredis";
import { ResponseStoreUnavailableError, type ResponseStore } from "./store.ts";

/**
 * The store every gateway of a deployment shares (REDIS_URL): the quota store's connection (quota/redis.ts: commands
 * fail fast while disconnected, each with a deadline), keys under `<GATEWAY_REDIS_PREFIX>:responses:`, each set with
 * its expiry (`SET ... EX`) in one MULTI. Any failure is a ResponseStoreUnavailableError (never the value or the key).
 */

export interface RedisResponseStoreOptions {
  client: Redis;
  /** GATEWAY_REDIS_PREFIX: one per deployment. */
  prefix: string;
}

export function createRedisResponseStore(options: RedisResponseStoreOptions): ResponseStore {
  const { client } = options;
  const base = `${options.prefix}:responses:`;

  async function guarded<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new ResponseStoreUnavailableError({ cause: err });
    }
  }

  return {
    kind: "redis",
    set: (entries, ttlSec) =>
      guarded(async () => {
        if (entries.length === 0) return;
        const multi = client.multi();
        for (const [key, value] of entries) multi.set(base + key, value, "EX", ttlSec);
        const results = await multi.exec();
        if (results === null || results.some(([err]) => err !== null)) throw new Error("MULTI failed");
      }),
    get: (keys) =>
      guarded(async () => {
        if (keys.length === 0) return [];
        const values = await client.mget(keys.map((key) => base + key));
        return values.map((value) => value ?? undefined);
      }),
    delete: (keys) =>
      guarded(async () => {
        if (keys.length === 0) return 0;
        return client.del(...keys.map((key) => base + key));
      }),
  };
}
