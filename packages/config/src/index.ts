export { describeError, SafeError, type DescribedError } from "./errors/safe-error.ts";
export { EnvError, type EnvProblem } from "./env/env-error.ts";
export { readEnv, type EnvSource } from "./env/read-env.ts";
export {
  DEFAULT_HF_ENDPOINT,
  DEFAULT_MODEL,
  HF_TOKEN_PATTERN,
  isLoopbackHost,
  readInferenceEnv,
  type HubSettings,
  type IgnoredVariable,
  type InferenceConfig,
  type LoraAdapterSpec,
  type LoraSpec,
  type ModelSpec,
  type SupplyChainSettings,
} from "./env/inference-env.ts";
export { JWT_ALGORITHMS, readGatewayEnv, type GatewayConfig, type JwtAlgorithm } from "./env/gateway-env.ts";
export * from "./api/chat-completion.ts";
export * from "./api/tools.ts";
export * from "./api/generation-params.ts";
export * from "./api/completion.ts";
export * from "./api/embeddings.ts";
export * from "./api/models.ts";
export * from "./api/error.ts";
export * from "./api/sse.ts";
export * from "./api/debug.ts";
export * from "./api/responses.ts";
export * from "./api/json-depth.ts";
export * from "./api/request-id.ts";
