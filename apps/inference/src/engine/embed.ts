import type { LlamaEmbeddingContext, LlamaModel, Token } from "node-llama-cpp";
import { ApiError } from "@slm/config";
import { SlotPool } from "./slot-pool.ts";

/** An embedding context (llama.cpp in embeddings mode) behind its own one-slot queue. */
export interface Embedder {
  context: LlamaEmbeddingContext;
  pool: SlotPool<LlamaEmbeddingContext>;
  dimensions: number;
  contextSize: number;
  dispose(): Promise<void>;
}

export interface EmbeddingsResult {
  /** One unit-length vector per input, in order. */
  vectors: number[][];
  promptTokens: number;
}

export async function createEmbedder(
  model: LlamaModel,
  options: { contextSize: number; threads: number; maxQueue: number },
): Promise<Embedder> {
  const contextSize = Math.min(options.contextSize, model.trainContextSize);
  const context = await model.createEmbeddingContext({ contextSize, threads: options.threads });
  return {
    context,
    pool: new SlotPool({ slots: [context], maxQueue: options.maxQueue }),
    dimensions: model.embeddingVectorSize,
    contextSize,
    dispose: () => context.dispose(),
  };
}

/**
 * Embeds each input with the model's own pooling and normalises it to unit length (as OpenAI's vectors are). Inputs
 * are measured before a slot is taken: one that does not fit the context is a 400 with its token count.
 */
export async function embed(
  embedder: Embedder,
  inputs: ReadonlyArray<string | Token[]>,
  signal?: AbortSignal,
): Promise<EmbeddingsResult> {
  let promptTokens = 0;
  for (const [index, input] of inputs.entries()) {
    const length = embedder.context.calculateInputLength(input);
    if (length >= embedder.contextSize) {
      throw new ApiError(
        400,
        "invalid_request_error",
        "context_length_exceeded",
        `input ${index} has ${length} tokens; this model embeds at most ${embedder.contextSize - 1} tokens per input.`,
        "input",
      );
    }
    promptTokens += length;
  }
  const vectors = await embedder.pool.with(signal, async (context) => {
    const out: number[][] = [];
    for (const input of inputs) {
      signal?.throwIfAborted();
      out.push(normalize((await context.getEmbeddingFor(input)).vector));
    }
    return out;
  });
  return { vectors, promptTokens };
}

function normalize(vector: readonly number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
  return norm > 0 ? vector.map((x) => x / norm) : [...vector];
}
