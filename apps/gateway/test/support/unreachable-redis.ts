import { Redis } from "ioredis";

/**
 * A Redis client whose server is gone (nothing listens on port 1): every command fails at once, no retry, no offline
 * queue. Its error events are swallowed as the gateway's own client does (quota/redis.ts). Disconnect it when done.
 */
export function unreachableRedis(): Redis {
  const client = new Redis("redis://127.0.0.1:1", {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  return client;
}
