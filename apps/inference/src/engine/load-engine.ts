import { getLlama, LlamaLogLevel, type LlamaContext, type LlamaContextSequence, type LlamaModel } from "node-llama-cpp";
import { SlotPool } from "./slot-pool.ts";

export interface LoadEngineOptions {
  modelPath: string;
  /**
   * Generation threads. Default 1: measured on the 2-core machines with the prebuilt CPU binary (no OpenMP),
   * 1 thread gave 144-163 tok/s against 54-62 with 2, and node-llama-cpp's own default was ~150x slower.
   */
  threads: number;
  /** Tokens per sequence. Capped at the model's training context. */
  contextSize: number;
  parallel: number;
  maxQueue: number;
}

export interface Engine {
  model: LlamaModel;
  context: LlamaContext;
  pool: SlotPool<LlamaContextSequence>;
  contextSize: number;
  dispose(): Promise<void>;
}

/** Loads the model with the prebuilt CPU binary (nothing downloaded or built) and opens one sequence per slot. */
export async function loadEngine(options: LoadEngineOptions): Promise<Engine> {
  const llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: options.threads,
    logLevel: LlamaLogLevel.error,
    progressLogs: false,
  });
  const model = await llama.loadModel({ modelPath: options.modelPath, gpuLayers: 0 });
  const contextSize = Math.min(options.contextSize, model.trainContextSize);
  const context = await model.createContext({
    contextSize,
    sequences: options.parallel,
    threads: { ideal: options.threads, min: 1 },
  });
  const sequences = Array.from({ length: options.parallel }, () => context.getSequence());
  return {
    model,
    context,
    pool: new SlotPool({ slots: sequences, maxQueue: options.maxQueue }),
    contextSize: context.contextSize,
    dispose: async () => {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}
