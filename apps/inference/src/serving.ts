import type { Engine } from "./engine/load-engine.ts";
import type { ChosenTemplate } from "./engine/chat-template.ts";

/** What a ready process serves: the loaded engine, its chat template and the public model name. */
export interface Serving {
  engine: Engine;
  template: ChosenTemplate;
  /** The name clients use: MODEL_ALIAS, or the file name without `.gguf`. Never the Hub repo id. */
  modelName: string;
  createdAt: number;
}

export function publicModelName(alias: string | undefined, file: string): string {
  if (alias) return alias;
  const base = file.split("/").pop() ?? file;
  return base.replace(/\.gguf$/i, "");
}
