import * as v from "valibot";
import { bearerToken, boolean, httpUrlList, integer, list, logLevel, port, text } from "./fields.ts";
import { readEnv, type EnvSource } from "./read-env.ts";

/** What a sign-in token may be signed with (`none` never). HS* need GATEWAY_JWT_SECRET, the others a JWKS. */
export const JWT_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
  "HS256",
  "HS384",
  "HS512",
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];
const isHmac = (alg: string) => alg.startsWith("HS");
/** The defaults: asymmetric algorithms with a JWKS, HS256 with a shared secret. */
const JWKS_DEFAULT_ALGORITHMS: readonly JwtAlgorithm[] = ["RS256", "ES256", "EdDSA"];
const SECRET_DEFAULT_ALGORITHMS: readonly JwtAlgorithm[] = ["HS256"];

const secret = (what: string) => v.optional(v.pipe(v.string(), v.minLength(32, what)));

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
    GATEWAY_MAX_JSON_DEPTH: integer({ default: 64, min: 8, max: 1024 }),
    GATEWAY_MAX_TOKENS: integer({ default: 4096, min: 1, max: 1 << 20 }),
    GATEWAY_UPSTREAM_TIMEOUT_MS: integer({ default: 300_000, min: 100, max: 3_600_000 }),
    // A request body must arrive within this: a slow upload holds a connection no longer (408).
    GATEWAY_BODY_TIMEOUT_MS: integer({ default: 30_000, min: 100, max: 3_600_000 }),
    // Open connections per client address (the TCP peer); 0: no cap. Unset: 64, or no cap behind trusted proxies
    // (GATEWAY_TRUST_PROXY_HOPS > 0: every connection comes from the proxy; cap there).
    GATEWAY_MAX_CONNECTIONS_PER_IP: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^\s*\d+\s*$/, "an integer from 0 to 1000000"),
        v.transform(Number),
        v.maxValue(1_000_000, "an integer from 0 to 1000000"),
      ),
    ),
    // How long the served model list (inference's /v1/models) is cached.
    GATEWAY_MODELS_TTL_MS: integer({ default: 10_000, min: 10, max: 3_600_000 }),
    // Default key policy (a key file may override each per key); 0 means unlimited.
    GATEWAY_REQUESTS_PER_MINUTE: integer({ default: 600, min: 0, max: 1e9 }),
    GATEWAY_TOKENS_PER_MINUTE: integer({ default: 0, min: 0, max: 1e12 }),
    GATEWAY_CONCURRENT_STREAMS: integer({ default: 16, min: 0, max: 1e6 }),
    GATEWAY_MAX_CHOICES: integer({ default: 0, min: 0, max: 128 }),
    // Requests in flight per key (JSON and streams): one key's backlog stays out of inference's queue.
    GATEWAY_KEY_MAX_INFLIGHT: integer({ default: 8, min: 0, max: 1e6 }),
    GATEWAY_IP_REQUESTS_PER_MINUTE: integer({ default: 60, min: 0, max: 1e9 }),
    REDIS_URL: v.optional(
      v.pipe(v.string(), v.trim(), v.regex(/^rediss?:\/\/[^\s]+$/i, "a redis:// or rediss:// URL")),
    ),
    GATEWAY_REDIS_PREFIX: v.optional(
      v.pipe(v.string(), v.trim(), v.regex(/^[\w.:-]{1,64}$/, "1-64 of [A-Za-z0-9_.:-]")),
      "slm-gateway",
    ),
    GATEWAY_REDIS_FAILURE: v.optional(v.picklist(["open", "closed"], "open or closed"), "open"),
    // Stored responses (POST /v1/responses with store, previous_response_id, item_reference): in Redis with REDIS_URL,
    // else in memory. How long each is kept (30 days, as OpenAI; 0: nothing stored), the largest one stored, the
    // longest previous_response_id chain, and the in-memory store's bound.
    GATEWAY_RESPONSES_TTL_S: integer({ default: 2_592_000, min: 0, max: 31_536_000 }),
    GATEWAY_RESPONSES_MAX_BYTES: integer({ default: 2 << 20, min: 1024, max: 256 << 20 }),
    GATEWAY_RESPONSES_MAX_CHAIN: integer({ default: 100, min: 1, max: 10_000 }),
    GATEWAY_RESPONSES_MEMORY_BYTES: integer({ default: 64 << 20, min: 0, max: 64 * 2 ** 30 }),
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
    // Conversation-affine routing: a conversation's turns go to the replica holding its prefix (apps/gateway's
    // upstream/affinity-key.ts), unless it has GATEWAY_AFFINITY_SPILL more requests in flight than the least loaded.
    GATEWAY_AFFINITY: boolean(true),
    GATEWAY_AFFINITY_SPILL: integer({ default: 2, min: 1, max: 1e6 }),
    GATEWAY_AFFINITY_TTL_MS: integer({ default: 600_000, min: 1000, max: 86_400_000 }),
    // What a cached prompt token counts for in token quotas, from 0 (free) to 1 (a full token).
    GATEWAY_CACHED_TOKEN_WEIGHT: v.pipe(
      v.optional(v.string(), "1"),
      v.regex(/^\s*(0(\.\d+)?|1(\.0+)?|\.\d+)\s*$/, "a number from 0 to 1"),
      v.transform(Number),
    ),
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
    // Sign-in tokens (JWT) of an identity provider: its JWKS and/or an HS256 shared secret, with the issuer and
    // audience they must name (see the checks below).
    GATEWAY_JWT_JWKS_URL: v.optional(
      v.pipe(
        v.string(),
        v.trim(),
        v.check((u) => URL.canParse(u) && /^https?:\/\//i.test(u), "an http(s) URL"),
      ),
    ),
    GATEWAY_JWT_SECRET: secret("a shared secret of at least 32 characters"),
    GATEWAY_JWT_ISSUER: list(),
    GATEWAY_JWT_AUDIENCE: list(),
    GATEWAY_JWT_ALGORITHMS: v.pipe(
      list(),
      v.check(
        (algs) => algs.every((a) => (JWT_ALGORITHMS as readonly string[]).includes(a)),
        `algorithms among ${JWT_ALGORITHMS.join(", ")} (never none)`,
      ),
    ),
    GATEWAY_JWT_CLOCK_SKEW_S: integer({ default: 30, min: 0, max: 600 }),
    GATEWAY_JWT_POLICY_CLAIM: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(256))),
    /** Signs the short-lived tokens of POST /v1/auth/tokens (HS256); every gateway sharing it accepts them. */
    GATEWAY_TOKEN_SECRET: secret("a secret of at least 32 characters"),
  }),
  v.forward(
    v.partialCheck(
      [["GATEWAY_JWT_JWKS_URL"], ["GATEWAY_JWT_SECRET"], ["GATEWAY_JWT_ISSUER"]],
      (e) =>
        (e.GATEWAY_JWT_JWKS_URL === undefined && e.GATEWAY_JWT_SECRET === undefined) || e.GATEWAY_JWT_ISSUER.length > 0,
      "the issuer (iss) tokens must name, required with GATEWAY_JWT_JWKS_URL or GATEWAY_JWT_SECRET",
    ),
    ["GATEWAY_JWT_ISSUER"],
  ),
  v.forward(
    v.partialCheck(
      [["GATEWAY_JWT_JWKS_URL"], ["GATEWAY_JWT_SECRET"], ["GATEWAY_JWT_AUDIENCE"]],
      (e) =>
        (e.GATEWAY_JWT_JWKS_URL === undefined && e.GATEWAY_JWT_SECRET === undefined) ||
        e.GATEWAY_JWT_AUDIENCE.length > 0,
      "the audience (aud) tokens must name, required with GATEWAY_JWT_JWKS_URL or GATEWAY_JWT_SECRET",
    ),
    ["GATEWAY_JWT_AUDIENCE"],
  ),
  v.forward(
    v.partialCheck(
      [
        ["GATEWAY_JWT_JWKS_URL"],
        ["GATEWAY_JWT_SECRET"],
        ["GATEWAY_JWT_ISSUER"],
        ["GATEWAY_JWT_AUDIENCE"],
        ["GATEWAY_JWT_ALGORITHMS"],
        ["GATEWAY_JWT_POLICY_CLAIM"],
      ],
      (e) =>
        e.GATEWAY_JWT_JWKS_URL !== undefined ||
        e.GATEWAY_JWT_SECRET !== undefined ||
        (e.GATEWAY_JWT_ISSUER.length === 0 &&
          e.GATEWAY_JWT_AUDIENCE.length === 0 &&
          e.GATEWAY_JWT_ALGORITHMS.length === 0 &&
          e.GATEWAY_JWT_POLICY_CLAIM === undefined),
      "a JWKS URL (or GATEWAY_JWT_SECRET): the other GATEWAY_JWT_* settings do nothing without one",
    ),
    ["GATEWAY_JWT_JWKS_URL"],
  ),
  v.forward(
    v.partialCheck(
      [["GATEWAY_JWT_JWKS_URL"], ["GATEWAY_JWT_SECRET"], ["GATEWAY_JWT_ALGORITHMS"]],
      (e) =>
        e.GATEWAY_JWT_ALGORITHMS.every((alg) =>
          isHmac(alg) ? e.GATEWAY_JWT_SECRET !== undefined : e.GATEWAY_JWT_JWKS_URL !== undefined,
        ),
      "HS algorithms only with GATEWAY_JWT_SECRET, the others only with GATEWAY_JWT_JWKS_URL",
    ),
    ["GATEWAY_JWT_ALGORITHMS"],
  ),
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
      maxJsonDepth: e.GATEWAY_MAX_JSON_DEPTH,
      maxTokens: e.GATEWAY_MAX_TOKENS,
      upstreamTimeoutMs: e.GATEWAY_UPSTREAM_TIMEOUT_MS,
      bodyTimeoutMs: e.GATEWAY_BODY_TIMEOUT_MS,
      /** Open connections per client address (Node runtime); 0: no cap. */
      maxConnectionsPerIp: e.GATEWAY_MAX_CONNECTIONS_PER_IP ?? (e.GATEWAY_TRUST_PROXY_HOPS > 0 ? 0 : 64),
      maxInflightPerReplica: e.GATEWAY_MAX_INFLIGHT,
      healthIntervalMs: e.GATEWAY_HEALTH_INTERVAL_MS,
    },
    /** Conversation-affine routing over the replicas (remembered in Redis too when REDIS_URL is set). */
    affinity: { enabled: e.GATEWAY_AFFINITY, spill: e.GATEWAY_AFFINITY_SPILL, ttlMs: e.GATEWAY_AFFINITY_TTL_MS },
    /** Token quotas charge a cached prompt token at this weight (0..1). */
    cachedTokenWeight: e.GATEWAY_CACHED_TOKEN_WEIGHT,
    /** The policy of keys that do not set their own (0 = unlimited). */
    defaultPolicy: {
      requestsPerMinute: e.GATEWAY_REQUESTS_PER_MINUTE,
      tokensPerMinute: e.GATEWAY_TOKENS_PER_MINUTE,
      concurrentStreams: e.GATEWAY_CONCURRENT_STREAMS,
      maxTokens: e.GATEWAY_MAX_TOKENS,
      maxChoices: e.GATEWAY_MAX_CHOICES,
      concurrentRequests: e.GATEWAY_KEY_MAX_INFLIGHT,
    },
    /** Requests per minute per client IP for traffic without a valid key (anonymous or failed authentication). */
    ipRequestsPerMinute: e.GATEWAY_IP_REQUESTS_PER_MINUTE,
    redis: { url: e.REDIS_URL, prefix: e.GATEWAY_REDIS_PREFIX, failure: e.GATEWAY_REDIS_FAILURE },
    /** Stored responses: TTL (0: none stored), size and chain limits, the in-memory bound (without REDIS_URL). */
    responses: {
      ttlSec: e.GATEWAY_RESPONSES_TTL_S,
      maxBytes: e.GATEWAY_RESPONSES_MAX_BYTES,
      maxChain: e.GATEWAY_RESPONSES_MAX_CHAIN,
      memoryBytes: e.GATEWAY_RESPONSES_MEMORY_BYTES,
    },
    corsOrigins: e.GATEWAY_CORS_ORIGINS,
    trustProxyHops: e.GATEWAY_TRUST_PROXY_HOPS,
    /** How long the served model list is cached (ms). */
    modelsTtlMs: e.GATEWAY_MODELS_TTL_MS,
    metricsToken: e.GATEWAY_METRICS_TOKEN,
    metricsPort: e.GATEWAY_METRICS_PORT,
    /** Sign-in tokens of an identity provider; undefined when neither a JWKS nor a shared secret is configured. */
    jwt:
      e.GATEWAY_JWT_JWKS_URL === undefined && e.GATEWAY_JWT_SECRET === undefined
        ? undefined
        : {
            jwksUrl: e.GATEWAY_JWT_JWKS_URL,
            secret: e.GATEWAY_JWT_SECRET,
            issuers: e.GATEWAY_JWT_ISSUER,
            audiences: e.GATEWAY_JWT_AUDIENCE,
            algorithms:
              e.GATEWAY_JWT_ALGORITHMS.length > 0
                ? (e.GATEWAY_JWT_ALGORITHMS as JwtAlgorithm[])
                : [
                    ...(e.GATEWAY_JWT_JWKS_URL === undefined ? [] : JWKS_DEFAULT_ALGORITHMS),
                    ...(e.GATEWAY_JWT_SECRET === undefined ? [] : SECRET_DEFAULT_ALGORITHMS),
                  ],
            clockSkewSec: e.GATEWAY_JWT_CLOCK_SKEW_S,
            policyClaim: e.GATEWAY_JWT_POLICY_CLAIM,
          },
    /** The short-lived tokens of POST /v1/auth/tokens: signed and verified with GATEWAY_TOKEN_SECRET. */
    mintedTokens:
      e.GATEWAY_TOKEN_SECRET === undefined
        ? undefined
        : { secret: e.GATEWAY_TOKEN_SECRET, clockSkewSec: e.GATEWAY_JWT_CLOCK_SKEW_S },
  })),
);

export type GatewayConfig = v.InferOutput<typeof GatewayEnvSchema>;

export function readGatewayEnv(source: EnvSource): GatewayConfig {
  return readEnv("gateway", GatewayEnvSchema, source);
}
