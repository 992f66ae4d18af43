import * as v from "valibot";
import { bearerToken, boolean, httpUrlList, integer, list, logLevel, port, text } from "./fields.ts";
import { readEnv, type EnvSource } from "./read-env.ts";

const GatewayEnvSchema = v.pipe(
  v.object({
    NODE_ENV: v.optional(v.string(), "development"),
    LOG_LEVEL: logLevel(),
    GATEWAY_HOST: v.optional(v.pipe(v.string(), v.trim()), "127.0.0.1"),
    GATEWAY_PORT: port(8080),
    // One URL, or a comma-separated list of inference replicas.
    INFERENCE_URL: httpUrlList("http://127.0.0.1:8081"),
    INFERENCE_API_KEY: bearerToken(),
    GATEWAY_API_KEYS: v.pipe(
      list(),
      v.check((keys) => keys.every((k) => k.length >= 16), "API keys of at least 16 characters"),
      v.check(
        (keys) => keys.every((k) => !k.toLowerCase().startsWith("sha256:") || /^sha256:[0-9a-f]{64}$/i.test(k)),
        "sha256: entries of 64 hex digits",
      ),
    ),
    GATEWAY_KEYS_FILE: text(),
    GATEWAY_ALLOW_ANONYMOUS: boolean(false),
    /** The public model names anonymous requests may use; `*` all. Unset: all when no key is configured, none otherwise. */
    GATEWAY_ANONYMOUS_MODELS: list(),
    GATEWAY_MAX_BODY_BYTES: integer({ default: 1 << 20, min: 1024, max: 64 << 20 }),
    GATEWAY_MAX_TOKENS: integer({ default: 4096, min: 1, max: 1 << 20 }),
    GATEWAY_UPSTREAM_TIMEOUT_MS: integer({ default: 300_000, min: 100, max: 3_600_000 }),
    // Default key policy (a key file may override each per key); 0 means unlimited.
    GATEWAY_REQUESTS_PER_MINUTE: integer({ default: 600, min: 0, max: 1e9 }),
    GATEWAY_TOKENS_PER_MINUTE: integer({ default: 0, min: 0, max: 1e12 }),
    GATEWAY_CONCURRENT_STREAMS: integer({ default: 16, min: 0, max: 1e6 }),
    GATEWAY_MAX_CHOICES: integer({ default: 0, min: 0, max: 128 }),
    GATEWAY_IP_REQUESTS_PER_MINUTE: integer({ default: 60, min: 0, max: 1e9 }),
    REDIS_URL: v.optional(
      v.pipe(v.string(), v.trim(), v.regex(/^rediss?:\/\/[^\s]+$/i, "a redis:// or rediss:// URL")),
    ),
    GATEWAY_REDIS_PREFIX: v.optional(
      v.pipe(v.string(), v.trim(), v.regex(/^[\w.:-]{1,64}$/, "1-64 of [A-Za-z0-9_.:-]")),
      "slm-gateway",
    ),
    GATEWAY_REDIS_FAILURE: v.optional(v.picklist(["open", "closed"], "open or closed"), "open"),
    GATEWAY_CORS_ORIGINS: v.pipe(
      list(),
      v.check(
        (origins) => origins.every((o) => o === "*" || /^https?:\/\/[^/\s]+$/i.test(o)),
        "* or origins like https://app.example",
      ),
    ),
    GATEWAY_TRUST_PROXY_HOPS: integer({ default: 0, min: 0, max: 16 }),
    GATEWAY_HEALTH_INTERVAL_MS: integer({ default: 5000, min: 100, max: 3_600_000 }),
    GATEWAY_MAX_INFLIGHT: integer({ default: 512, min: 1, max: 1e6 }),
    GATEWAY_METRICS_TOKEN: text(),
    /** A second listener on 127.0.0.1 that serves only /metrics, without the token. */
    GATEWAY_METRICS_PORT: v.optional(
      v.pipe(
        v.string(),
        v.trim(),
        v.regex(/^\d{1,5}$/, "a port number"),
        v.transform(Number),
        v.maxValue(65535, "a port number"),
      ),
    ),
    // Unset: on outside production, off in production (see the transform).
    GATEWAY_PLAYGROUND: v.optional(boolean(false)),
  }),
  v.transform((e) => ({
    production: e.NODE_ENV === "production",
    logLevel: e.LOG_LEVEL,
    server: { host: e.GATEWAY_HOST, port: e.GATEWAY_PORT },
    /** Inference replicas (at least one). */
    inferenceUrls: e.INFERENCE_URL,
    /** Sent to inference as `Authorization: Bearer <key>`; never shown to clients. */
    inferenceApiKey: e.INFERENCE_API_KEY,
    apiKeys: e.GATEWAY_API_KEYS,
    keysFile: e.GATEWAY_KEYS_FILE,
    allowAnonymous: e.GATEWAY_ALLOW_ANONYMOUS,
    anonymousModels: e.GATEWAY_ANONYMOUS_MODELS,
    /** Serve the browser playground at /playground/. */
    playground: e.GATEWAY_PLAYGROUND ?? e.NODE_ENV !== "production",
    limits: {
      maxBodyBytes: e.GATEWAY_MAX_BODY_BYTES,
      maxTokens: e.GATEWAY_MAX_TOKENS,
      upstreamTimeoutMs: e.GATEWAY_UPSTREAM_TIMEOUT_MS,
      maxInflightPerReplica: e.GATEWAY_MAX_INFLIGHT,
      healthIntervalMs: e.GATEWAY_HEALTH_INTERVAL_MS,
    },
    /** The policy of keys that do not set their own (0 = unlimited). */
    defaultPolicy: {
      requestsPerMinute: e.GATEWAY_REQUESTS_PER_MINUTE,
      tokensPerMinute: e.GATEWAY_TOKENS_PER_MINUTE,
      concurrentStreams: e.GATEWAY_CONCURRENT_STREAMS,
      maxTokens: e.GATEWAY_MAX_TOKENS,
      maxChoices: e.GATEWAY_MAX_CHOICES,
    },
    /** Requests per minute per client IP for traffic without a valid key (anonymous or failed authentication). */
    ipRequestsPerMinute: e.GATEWAY_IP_REQUESTS_PER_MINUTE,
    redis: { url: e.REDIS_URL, prefix: e.GATEWAY_REDIS_PREFIX, failure: e.GATEWAY_REDIS_FAILURE },
    corsOrigins: e.GATEWAY_CORS_ORIGINS,
    trustProxyHops: e.GATEWAY_TRUST_PROXY_HOPS,
    metricsToken: e.GATEWAY_METRICS_TOKEN,
    metricsPort: e.GATEWAY_METRICS_PORT,
  })),
);

export type GatewayConfig = v.InferOutput<typeof GatewayEnvSchema>;

export function readGatewayEnv(source: EnvSource): GatewayConfig {
  return readEnv("gateway", GatewayEnvSchema, source);
}
