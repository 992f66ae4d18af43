import { DEFAULT_LORA_TARGETS, drawLoraWeights, type TinyLoraOptions } from "./lora-weights.ts";
import { writeSafetensors, type SafetensorsTensor } from "./write-safetensors.ts";

export interface PeftAdapterOverrides {
  /** Fields merged over the generated adapter_config.json (e.g. `{ use_dora: true }`). */
  config?: Record<string, unknown>;
  /** Added to the safetensors file (e.g. a bias or a modules_to_save weight). */
  extraTensors?: readonly SafetensorsTensor[];
  /** Tensors to leave out, by key (e.g. one lora_B). */
  omit?: (key: string) => boolean;
}

export interface PeftAdapter {
  /** adapter_config.json as an object. */
  config: Record<string, unknown>;
  /** What adapter_model.safetensors holds. */
  tensors: SafetensorsTensor[];
  /** The adapter folder, ready for the fake Hub or a directory. */
  files: { "adapter_config.json": string; "adapter_model.safetensors": Uint8Array };
}

/** Generates a PEFT LoRA adapter folder for the tiny base, as PEFT's save_pretrained writes it. */
export function generatePeftAdapter(options: TinyLoraOptions = {}, overrides: PeftAdapterOverrides = {}): PeftAdapter {
  const dtype = options.dtype ?? "F32";
  const tensors: SafetensorsTensor[] = [];
  for (const { module, embedding, a, aShape, b, bShape } of drawLoraWeights(options)) {
    const prefix = `base_model.model.${module}`;
    const [aKey, bKey] = embedding
      ? [`${prefix}.lora_embedding_A`, `${prefix}.lora_embedding_B`]
      : [`${prefix}.lora_A.weight`, `${prefix}.lora_B.weight`];
    tensors.push({ name: aKey, dtype, shape: aShape, data: a }, { name: bKey, dtype, shape: bShape, data: b });
  }
  const kept = [...tensors.filter((tensor) => !overrides.omit?.(tensor.name)), ...(overrides.extraTensors ?? [])];

  const config: Record<string, unknown> = {
    alpha_pattern: options.alphaPattern ?? {},
    auto_mapping: null,
    base_model_name_or_path: options.baseModelName ?? "tiny/base",
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: options.alpha ?? 8,
    lora_dropout: 0.05,
    modules_to_save: null,
    peft_type: "LORA",
    r: options.r ?? 4,
    rank_pattern: options.rankPattern ?? {},
    revision: null,
    target_modules: [...(options.targetModules ?? DEFAULT_LORA_TARGETS)],
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: options.useRslora ?? false,
    ...overrides.config,
  };
  return {
    config,
    tensors: kept,
    files: {
      "adapter_config.json": JSON.stringify(config, null, 2),
      "adapter_model.safetensors": writeSafetensors(kept),
    },
  };
}
