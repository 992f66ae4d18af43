import type { LlamaContext, LlamaContextSequence, LlamaModel } from "node-llama-cpp";
import { AdapterLoadError } from "../lora/index.ts";
import { PromptLookup } from "./prompt-lookup.ts";
import { SlotPool } from "./slot-pool.ts";
import { StepGate } from "./step-gate.ts";
import { ThroughputMeter } from "./throughput.ts";

export interface GenerationContextOptions {
  contextSize: number;
  /** Sequences of the context: requests generated at the same time, batched together by llama.cpp. */
  parallel: number;
  maxQueue: number;
  /** Of those, requests of one principal (see slot-pool.ts). Default: `maxQueue`. */
  maxQueuePerPrincipal?: number | undefined;
  threads: number;
  /** A GGUF LoRA adapter applied to this context (llama.cpp applies LoRA per context). */
  lora?: { filePath: string; scale: number } | undefined;
  /** Prompt-lookup speculative decoding for the greedy requests that qualify (see prompt-lookup.ts). */
  promptLookup?: boolean;
}

export interface GenerationContext {
  context: LlamaContext;
  pool: SlotPool<LlamaContextSequence>;
  /** Keeps the generations running on `context` in one batch per decoding step. */
  steps: StepGate<LlamaContextSequence>;
  throughput: ThroughputMeter;
}

/** One context with a sequence per slot, its slot pool and its step gate. */
export async function openGenerationContext(
  model: LlamaModel,
  options: GenerationContextOptions,
): Promise<GenerationContext> {
  const { lora, threads } = options;
  const context = await model
    .createContext({
      contextSize: options.contextSize,
      sequences: options.parallel,
      threads: { ideal: threads, min: threads },
      ...(lora ? { lora: { adapters: [{ filePath: lora.filePath, scale: lora.scale }] } } : {}),
    })
    .catch((error: unknown) => {
      // node-llama-cpp's adapter error names the local file path: replaced by a message safe to log and show.
      throw lora ? new AdapterLoadError() : error;
    });
  // Guesses only while one slot is busy: the pool is made below, after the sequences it holds.
  let pool: SlotPool<LlamaContextSequence> | undefined;
  const alone = () => (pool?.busy ?? 0) <= 1;
  const sequences = Array.from({ length: options.parallel }, () =>
    context.getSequence(options.promptLookup ? { tokenPredictor: new PromptLookup(alone) } : {}),
  );
  pool = new SlotPool({
    slots: sequences,
    maxQueue: options.maxQueue,
    maxQueuePerPrincipal: options.maxQueuePerPrincipal,
  });
  return {
    context,
    pool,
    steps: new StepGate(sequences),
    throughput: new ThroughputMeter(),
  };
}
