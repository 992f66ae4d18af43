import type { SafetensorsFile } from "../read-safetensors.ts";
import type { AdapterConfig } from "./adapter-config.ts";
import {
  DoraNotSupportedError,
  FanInFanOutError,
  IncompleteLoraPairError,
  LoraBiasError,
  ModulesToSaveError,
  UnknownModuleError,
  UnsupportedPeftTypeError,
  ZeroAlphaError,
} from "./errors.ts";
import { parsePeftKey } from "./parse-peft-key.ts";

/** Refuses adapter configs whose math llama.cpp (or a merge into the base) cannot reproduce. */
export function refuseUnrepresentable(config: AdapterConfig): void {
  if (config.peftType !== "LORA") throw new UnsupportedPeftTypeError(config.peftType);
  if (config.useDora) throw new DoraNotSupportedError();
  if (config.fanInFanOut) throw new FanInFanOutError();
  if (config.bias !== "none") throw new LoraBiasError(`bias="${config.bias}"`);
  if (config.loraBias) throw new LoraBiasError("lora_bias=true");
  if (config.loraAlpha === 0) throw new ZeroAlphaError();
}

/** One module's LoRA factors: the tensor names of A and B in the adapter's safetensors. */
export interface LoraPair {
  a: string;
  b: string;
  /** An embedding LoRA (lora_embedding_A/B) rather than a linear one. */
  embedding: boolean;
}

/**
 * Sorts an adapter's tensors into LoRA pairs per module; anything else is refused, all offenders named at once:
 * DoRA, biases, modules_to_save, tensors of modules `accepts` does not take, and a module with one factor only.
 * Shared by the GGUF adapter conversion and LORA_MERGE, which differ only in which modules they accept.
 */
export function pairLoraTensors(
  file: SafetensorsFile,
  config: AdapterConfig,
  accepts: (module: string, embedding: boolean) => boolean,
): Map<string, LoraPair> {
  const modules = new Map<string, Partial<LoraPair> & { embedding: boolean }>();
  const saved: string[] = [];
  const unknown: string[] = [];
  for (const key of file.tensors.keys()) {
    const { module, role } = parsePeftKey(key);
    if (role === "dora_magnitude") throw new DoraNotSupportedError();
    if (role === "bias") throw new LoraBiasError(`tensor ${key}`);
    if (role === "other") {
      const isSaved = config.modulesToSave.some((name) => module === name || module.endsWith(`.${name}`));
      (isSaved ? saved : unknown).push(key);
      continue;
    }
    const embedding = role === "lora_embedding_A" || role === "lora_embedding_B";
    if (!accepts(module, embedding)) {
      unknown.push(key);
      continue;
    }
    const entry = modules.get(module) ?? { embedding };
    if (role === "lora_A" || role === "lora_embedding_A") entry.a = key;
    else entry.b = key;
    modules.set(module, entry);
  }
  if (saved.length > 0) throw new ModulesToSaveError(saved);
  if (unknown.length > 0) throw new UnknownModuleError(unknown);
  const incomplete = [...modules].filter(([, { a, b }]) => !a || !b).map(([module]) => module);
  if (incomplete.length > 0) throw new IncompleteLoraPairError(incomplete);
  return modules as Map<string, LoraPair>;
}
