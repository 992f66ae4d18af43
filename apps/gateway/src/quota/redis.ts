import type { Redis } from "ioredis";
import type { Logger } from "../logger.ts";
import type { GatewayMetrics } from "../metrics/metrics.ts";

/**
 * The Redis connection behind shared quotas (ioredis). Commands fail fast instead of queueing while disconnected (the
 * quota store then applies the failure policy), and each call has a deadline, so a hung Redis cannot hang requests.
 * ioredis keeps reconnecting in the background. Imported lazily: without REDIS_URL, ioredis is never loaded.
 */

export interface RedisConnectOptions {
  url: string;
  logger: Logger;
  metrics?: GatewayMetrics;
  /** How long startup waits for the first connection before going on without it. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Per-command deadline. Default 500 ms. */
  commandTimeoutMs?: number;
}

export interface RedisConnection {
  client: Redis;
  close(): Promise<void>;
}

export async function connectRedis(options: RedisConnectOptions): Promise<RedisConnection> {
  const { Redis } = await import("ioredis");
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const client = new Redis(options.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs ?? 500,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let lastError = "";
  // Without a listener ioredis reports every failed reconnect as an unhandled error event. One line per new cause.
  client.on("error", (err: Error) => {
    if (err.message === lastError) return;
    lastError = err.message;
    options.logger.warn("redis connection error", { err });
  });
  client.on("ready", () => {
    lastError = "";
    options.metrics?.quotaStoreUp(true);
  });
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error("redis connect timed out")), connectTimeoutMs).unref?.(),
      ),
    ]);
    options.logger.info("redis connected: quotas are shared");
  } catch (err) {
    options.metrics?.quotaStoreUp(false);
    options.logger.error("redis unreachable at startup: the failure policy applies until it connects", { err });
  }
  return {
    client,
    async close() {
      client.disconnect();
    },
  };
}
