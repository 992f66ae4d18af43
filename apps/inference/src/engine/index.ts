/**
 * The engine's public face: load a GGUF into llama.cpp (a pool of context sequences), prepare a chat or completion
 * (template, tokens, sampling, grammar), generate step by step, embed. The HTTP layer, startup and the benchmarks
 * import the engine through this file only; the chat template and tool-call parsing have faces of their own
 * (`prompt/index.ts`, `tools/index.ts`).
 */
export { startLlama, LLAMA_SOURCE_BUILD_CMAKE_OPTIONS } from "./start-llama.ts";
export { loadEngine, type Engine, type LoadEngineOptions } from "./load-engine.ts";
export { engineWithAdapter, type EngineWithAdapterOptions } from "./engine-with-adapter.ts";
export { declaresEmbeddings, inspectGguf, InvalidModelError, type ModelMetadata } from "./gguf-metadata.ts";
export { warmUp } from "./warm-up.ts";
export { prepareGeneration, type PreparedGeneration, type PrepareGenerationOptions } from "./prepare-generation.ts";
export { prepareChat, renderChat, type ChatInput, type PreparedChat } from "./prepare-chat.ts";
export { prepareCompletion, promptTokens, type CompletionInput } from "./prepare-completion.ts";
export { generate, type GenerateHooks, type GenerationResult } from "./generate.ts";
export { sharePrompt } from "./share-prompt.ts";
export {
  defaultPromptCacheBytes,
  PromptCache,
  PromptCacheScope,
  promptCacheNamespace,
  type PromptCacheEvents,
  type PromptCacheStats,
} from "./prompt-cache/index.ts";
export type { TokenCandidate, TokenLogprob } from "./logprobs.ts";
export { embed, type Embedder, type EmbeddingsResult } from "./embed.ts";
export { PoolClosedError, QueueFullError, SHARED_PRINCIPAL } from "./slot-pool.ts";
