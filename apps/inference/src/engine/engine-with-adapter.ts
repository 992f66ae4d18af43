import type { Engine } from "./load-engine.ts";
import type { PromptCacheScope } from "./prompt-cache/index.ts";
import { openGenerationContext } from "./open-generation-context.ts";

export interface EngineWithAdapterOptions {
  lora: { filePath: string; scale: number };
  parallel: number;
  maxQueue: number;
  maxQueuePerPrincipal?: number | undefined;
  /** The prompt cache bound to this adapter's namespace (states of the base model must not be restored here). */
  promptCache?: PromptCacheScope | undefined;
}

/**
 * Another generation context on the base engine's loaded model, with a LoRA adapter applied: node-llama-cpp applies
 * LoRA per context, so each adapter gets its own context, slot pool and step gate, and requests for different
 * adapters decode side by side. The weights are shared; `dispose` closes only this context (the base engine owns
 * the model). Embeddings are not served through an adapter.
 */
export async function engineWithAdapter(base: Engine, options: EngineWithAdapterOptions): Promise<Engine> {
  const generation = await openGenerationContext(base.model, {
    contextSize: base.contextSize,
    parallel: options.parallel,
    maxQueue: options.maxQueue,
    maxQueuePerPrincipal: options.maxQueuePerPrincipal,
    threads: base.threads,
    lora: options.lora,
  });
  return {
    ...base,
    ...generation,
    embedder: undefined,
    promptCache: options.promptCache,
    dispose: () => generation.context.dispose(),
  };
}
