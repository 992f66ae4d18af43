import * as v from "valibot";
import { boolean, httpUrl, integer, list, logLevel, port } from "./fields.ts";
import { readEnv, type EnvSource } from "./read-env.ts";

const GatewayEnvSchema = v.pipe(
  v.object({
    NODE_ENV: v.optional(v.string(), "development"),
    LOG_LEVEL: logLevel(),
    GATEWAY_HOST: v.optional(v.pipe(v.string(), v.trim()), "127.0.0.1"),
    GATEWAY_PORT: port(8080),
    INFERENCE_URL: httpUrl("http://127.0.0.1:8081"),
    GATEWAY_API_KEYS: v.pipe(
      list(),
      v.check((keys) => keys.every((k) => k.length >= 16), "API keys of at least 16 characters"),
    ),
    GATEWAY_ALLOW_ANONYMOUS: boolean(false),
    GATEWAY_MAX_BODY_BYTES: integer({ default: 1 << 20, min: 1024, max: 64 << 20 }),
    GATEWAY_MAX_TOKENS: integer({ default: 4096, min: 1, max: 1 << 20 }),
    GATEWAY_UPSTREAM_TIMEOUT_MS: integer({ default: 300_000, min: 100, max: 3_600_000 }),
  }),
  v.transform((e) => ({
    production: e.NODE_ENV === "production",
    logLevel: e.LOG_LEVEL,
    server: { host: e.GATEWAY_HOST, port: e.GATEWAY_PORT },
    inferenceUrl: e.INFERENCE_URL,
    apiKeys: e.GATEWAY_API_KEYS,
    allowAnonymous: e.GATEWAY_ALLOW_ANONYMOUS,
    limits: {
      maxBodyBytes: e.GATEWAY_MAX_BODY_BYTES,
      maxTokens: e.GATEWAY_MAX_TOKENS,
      upstreamTimeoutMs: e.GATEWAY_UPSTREAM_TIMEOUT_MS,
    },
  })),
);

export type GatewayConfig = v.InferOutput<typeof GatewayEnvSchema>;

export function readGatewayEnv(source: EnvSource): GatewayConfig {
  return readEnv("gateway", GatewayEnvSchema, source);
}
