import { availableParallelism } from "node:os";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from "node-llama-cpp";
import type { SlotPool } from "./slot-pool.ts";
import { measureThreads, pickThreads, threadCandidates, type ThreadMeasurement } from "./choose-threads.ts";
import { createEmbedder, type Embedder } from "./embed.ts";
import { GrammarCache } from "./grammar.ts";
import type { GrammarLimits } from "./grammar-limits.ts";
import type { ThroughputMeter } from "./throughput.ts";
import type { StepGate } from "./step-gate.ts";
import { openGenerationContext } from "./open-generation-context.ts";
import { MessageText } from "./prompt/index.ts";
import type { PromptCacheScope } from "./prompt-cache/index.ts";

export interface LoadEngineOptions {
  /** llama.cpp, from `startLlama` with the same `threads`. */
  llama: Llama;
  modelPath: string;
  /** Generation threads, or "auto" to measure on the loaded model (see choose-threads.ts). */
  threads: number | "auto";
  /** Tokens per sequence. Capped at the model's training context. */
  contextSize: number;
  /** Sequences of the one context: requests generated at the same time, batched together by llama.cpp. */
  parallel: number;
  maxQueue: number;
  /** Of those, requests of one principal (see slot-pool.ts). Default: `maxQueue`. */
  maxQueuePerPrincipal?: number | undefined;
  /** Open an embedding context too (see `declaresEmbeddings`). */
  embeddings: boolean;
  /** A GGUF LoRA adapter applied to the generation context (llama.cpp applies LoRA per context). */
  lora?: { filePath: string; scale: number } | undefined;
  /** Prompt-lookup speculative decoding for greedy requests (see prompt-lookup.ts). */
  promptLookup?: boolean;
  /** What a JSON schema may ask of its grammar (GRAMMAR_MAX_*). Default: DEFAULT_GRAMMAR_LIMITS. */
  grammarLimits?: GrammarLimits | undefined;
  /**
   * Let the text of messages become control tokens, as llama-server does (ALLOW_SPECIAL_TOKENS_IN_MESSAGES). Default
   * false: only the chat template's own text does (see prompt/message-text.ts).
   */
  specialTokensInMessages?: boolean;
  /** Where conversations that leave a slot are kept (PROMPT_CACHE_*), bound to this model's namespace. */
  promptCache?: PromptCacheScope | undefined;
}

export interface Engine {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  pool: SlotPool<LlamaContextSequence>;
  /** Keeps the generations running on `context` in one batch per decoding step. */
  steps: StepGate<LlamaContextSequence>;
  contextSize: number;
  vocabularySize: number;
  threads: number;
  /** Set when LLAMA_THREADS=auto: what was measured. */
  threadMeasurements: ThreadMeasurement[] | undefined;
  grammars: GrammarCache;
  /** The vocabulary's control-token texts, kept out of the caller's text in a chat prompt; undefined when allowed. */
  messageText: MessageText | undefined;
  throughput: ThroughputMeter;
  embedder: Embedder | undefined;
  /** The prompt cache of this context (its model and adapters), when enabled. */
  promptCache: PromptCacheScope | undefined;
  dispose(): Promise<void>;
}

/**
 * Loads the model, picks the thread count, and opens one context with a sequence per slot. Sequences of one context are decoded together: tokens of all running generations
 * go to llama.cpp in one batch per step (continuous batching), which is where concurrent throughput comes from.
 */
export async function loadEngine(options: LoadEngineOptions): Promise<Engine> {
  const { llama } = options;
  const model = await llama.loadModel({ modelPath: options.modelPath, gpuLayers: 0 });
  const candidates = threadCandidates(availableParallelism());
  // With one candidate (2-core machines) there is nothing to measure.
  const threadMeasurements =
    options.threads === "auto" && candidates.length > 1
      ? await measureThreads(model, { candidates, batch: Math.min(options.parallel, 8) })
      : undefined;
  const threads =
    options.threads !== "auto"
      ? options.threads
      : threadMeasurements
        ? pickThreads(threadMeasurements)
        : candidates[0]!;
  const contextSize = Math.min(options.contextSize, model.trainContextSize);
  const generation = await openGenerationContext(model, {
    contextSize,
    parallel: options.parallel,
    maxQueue: options.maxQueue,
    maxQueuePerPrincipal: options.maxQueuePerPrincipal,
    threads,
    lora: options.lora,
    promptLookup: options.promptLookup ?? false,
  }).catch(async (error: unknown) => {
    await model.dispose();
    throw error;
  });
  const embedder = options.embeddings
    ? await createEmbedder(model, { contextSize, threads, maxQueue: options.maxQueue })
    : undefined;
  return {
    llama,
    model,
    ...generation,
    contextSize: generation.context.contextSize,
    vocabularySize: vocabularySize(model),
    threads,
    threadMeasurements,
    grammars: new GrammarCache({ llama, limits: options.grammarLimits }),
    messageText: options.specialTokensInMessages ? undefined : MessageText.of(model),
    embedder,
    promptCache: options.promptCache,
    dispose: async () => {
      await embedder?.dispose();
      await generation.context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

function vocabularySize(model: LlamaModel): number {
  const tokens = (model.fileInfo.metadata.tokenizer?.ggml as { tokens?: unknown } | undefined)?.tokens;
  return Array.isArray(tokens) ? tokens.length : Number.MAX_SAFE_INTEGER;
}
