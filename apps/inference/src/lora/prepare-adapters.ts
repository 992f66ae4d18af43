import type { LoraSpec } from "@slm/config";
import { DuplicateModelNameError } from "./errors.ts";
import { prepareAdapter, type PreparedAdapter } from "./prepare-adapter.ts";

/** The artifact roles of an adapter (the hub's configuredArtifacts). */
type AdapterRole = "adapter" | "adapter_config" | "adapter_weights";

/** What is read here of the hub's ResolvedArtifact: a verified file, its role and, with LORA_ADAPTERS, its adapter. */
export interface AdapterArtifact {
  role: string;
  adapter?: string | undefined;
  path: string;
  sha256: string;
}

export interface ReadyAdapter {
  /** The model name clients select it by. */
  name: string;
  /** The GGUF adapter llama.cpp loads. */
  filePath: string;
  scale: number;
}

/**
 * MODEL_TYPE=lora: each configured adapter's verified artifacts made into a GGUF adapter on the resolved base
 * (PEFT adapters checked against BASE_MODEL and converted, GGUF adapters checked against the base's tensors).
 * `onReady` is told about each, for the startup log.
 */
export async function prepareAdapters(
  spec: LoraSpec,
  artifacts: readonly AdapterArtifact[],
  /** The base GGUF llama.cpp loads: the verified GGUF, or the converted transformers base (sha256: its cache key). */
  base: { path: string; sha256: string },
  cacheDir: string,
  onReady: (adapter: LoraSpec["adapters"][number], prepared: PreparedAdapter, format: "gguf" | "peft") => void,
): Promise<ReadyAdapter[]> {
  const find = (role: AdapterRole, adapter: string | undefined) =>
    artifacts.find((a) => a.role === role && a.adapter === adapter);
  const must = (role: AdapterRole, adapter: string | undefined) => {
    const found = find(role, adapter);
    // configuredArtifacts() lists these for every adapter; a miss is a programming error.
    if (!found) throw new Error(`no ${role} artifact was resolved`);
    return found;
  };
  const ready: ReadyAdapter[] = [];
  for (const adapter of spec.adapters) {
    const key = spec.multi ? adapter.name : undefined;
    const gguf = find("adapter", key);
    const prepared = await prepareAdapter({
      base,
      baseModel: spec.baseModel,
      baseMatch: spec.baseMatch,
      adapter: gguf ? { gguf } : { config: must("adapter_config", key), weights: must("adapter_weights", key) },
      cacheDir,
    });
    onReady(adapter, prepared, gguf ? "gguf" : "peft");
    ready.push({ name: adapter.name, filePath: prepared.filePath, scale: spec.scale });
  }
  return ready;
}

/** LORA_ADAPTERS: the bare base and every adapter are selected by name, so no adapter may take the base's name. */
export function checkDistinctNames(baseName: string, adapters: ReadonlyArray<{ name: string }>): void {
  if (adapters.some((a) => a.name === baseName)) throw new DuplicateModelNameError(baseName);
}
