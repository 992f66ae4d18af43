import type { GatewayConfig } from "@slm/config";
import { Hono } from "hono";
import { createGatewayApp } from "./app.ts";
import { resolveApiKeys } from "./keys/api-key.ts";
import { createKeyLoader, type KeyLoader } from "./keys/key-loader.ts";
import { createKeyring } from "./keys/keyring.ts";
import type { Logger } from "./logger.ts";
import { metricsRoute } from "./metrics/metrics-route.ts";
import { createPrometheusMetrics } from "./metrics/prometheus.ts";
import { createQuotaStore } from "./quota/quota-store.ts";
import { connectRedis, type RedisConnection } from "./quota/redis.ts";
import { createRedisResponseStore } from "./responses/index.ts";
import { createAffinityMemory } from "./upstream/index.ts";
import type { RuntimeAdapter } from "./runtime/runtime.ts";
import type { Fetch, GatewayEnv } from "./types.ts";

/**
 * Everything a runtime entry point (node.ts, deno.ts) builds from the configuration, the same on both: metrics, keys
 * (env + file, loaded before serving), the quota store (Redis when REDIS_URL is set), the app, and a close() that
 * ends background work. Runs on Node and Deno (ioredis and prom-client work under Deno's npm compatibility).
 */

export interface StartGatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  runtime: RuntimeAdapter;
  fetch?: Fetch;
  readTextFile: (path: string) => Promise<string>;
}

export interface StartedGateway {
  app: Hono<GatewayEnv>;
  /** GATEWAY_METRICS_PORT: the app of the loopback-only metrics listener (GET /metrics, no token). */
  metricsApp: Hono<GatewayEnv> | undefined;
  keys: KeyLoader;
  /** Set when no key was configured and one was generated: the caller shows it once. */
  generatedKey: string | undefined;
  /** What the startup line reports (never a key, never an address). */
  summary: Record<string, unknown>;
  close(): Promise<void>;
}

export async function startGateway(options: StartGatewayOptions): Promise<StartedGateway> {
  const { config, logger } = options;
  const { metrics, endpoint } = createPrometheusMetrics();

  const { apiKeys, generatedKey } = resolveApiKeys(config);
  const keyring = createKeyring();
  const keysFile = config.keysFile;
  const keys = createKeyLoader({
    envKeys: apiKeys,
    readFile: keysFile === undefined ? undefined : () => options.readTextFile(keysFile),
    defaults: { models: "*", ...config.defaultPolicy },
    keyring,
    logger,
    metrics,
  });
  await keys.load();

  let redis: RedisConnection | undefined;
  if (config.redis.url !== undefined) redis = await connectRedis({ url: config.redis.url, logger, metrics });
  const quotaStore = createQuotaStore({
    redis: redis?.client,
    prefix: config.redis.prefix,
    failure: config.redis.failure,
    logger,
    metrics,
  });

  const lifetime = new AbortController();
  const app = createGatewayApp({
    ...config,
    keyring,
    quotaStore,
    // Stored responses: in Redis with REDIS_URL (every gateway sees them), else in this process's memory.
    responses: {
      ...config.responses,
      store: redis ? createRedisResponseStore({ client: redis.client, prefix: config.redis.prefix }) : undefined,
    },
    // Where spilled conversations are remembered: in Redis too with REDIS_URL (one memory for every gateway).
    affinity: {
      ...config.affinity,
      memory: createAffinityMemory({
        ttlMs: config.affinity.ttlMs,
        redis: redis?.client,
        prefix: config.redis.prefix,
        logger,
      }),
    },
    metrics,
    metricsEndpoint: endpoint,
    healthIntervalMs: config.limits.healthIntervalMs,
    signal: lifetime.signal,
    runtime: options.runtime,
    fetch: options.fetch,
    logger,
  });

  const metricsApp =
    config.metricsPort === undefined
      ? undefined
      : new Hono<GatewayEnv>().get("/metrics", metricsRoute({ endpoint, open: true }));

  return {
    app,
    metricsApp,
    keys,
    generatedKey,
    summary: {
      auth: keyring.size > 0 ? "api_key" : "anonymous",
      // How users may sign in with tokens (never a secret, never the JWKS address).
      signIn: [
        ...(config.jwt?.jwksUrl !== undefined ? ["jwks"] : []),
        ...(config.jwt?.secret !== undefined ? ["jwt_secret"] : []),
        ...(config.mintedTokens !== undefined ? ["minted"] : []),
      ],
      keys: keyring.size,
      keysFile: keysFile !== undefined,
      generatedKey: generatedKey !== undefined,
      anonymous: config.allowAnonymous,
      replicas: config.inferenceUrls.length,
      quotaStore: redis ? "redis" : "memory",
      responseStore: config.responses.ttlSec === 0 ? "off" : redis ? "redis" : "memory",
      affinity: config.affinity.enabled ? (redis ? "redis" : "memory") : "off",
      redisFailure: redis ? config.redis.failure : undefined,
      cors: config.corsOrigins.length,
    },
    async close() {
      lifetime.abort();
      await redis?.close();
    },
  };
}
