import type { Engine } from "./engine/index.ts";
import type { ChatTemplate } from "./engine/prompt/index.ts";

/** What a ready process serves: the loaded engine, its chat template and the public model name. */
export interface Serving {
  engine: Engine;
  template: ChatTemplate;
  /** The name clients use: MODEL_ALIAS, or the file name without `.gguf`. Never the Hub repo id. */
  modelName: string;
  createdAt: number;
  /**
   * LORA_ADAPTERS: every served model by name (the bare base first, then each adapter), each with its own context;
   * a request's `model` picks one. Undefined when one model is served (then `model` is not checked).
   */
  variants?: ReadonlyMap<string, Serving> | undefined;
}

/** The engines behind what is served: one, or one per variant. */
export function servedEngines(serving: Serving | undefined): Engine[] {
  if (!serving) return [];
  return serving.variants ? [...serving.variants.values()].map((v) => v.engine) : [serving.engine];
}

export function publicModelName(alias: string | undefined, file: string): string {
  if (alias) return alias;
  const base = file.split("/").pop() ?? file;
  return base.replace(/\.gguf$/i, "");
}
