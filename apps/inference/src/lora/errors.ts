/**
 * Why an adapter cannot be served: each class has a stable `code` and a one-line message naming the tensor, module
 * or config field at fault (never a path, URL or token), safe to log and to show at startup.
 */
export abstract class LoraError extends Error {
  abstract readonly code: string;
}

/** The safetensors file is truncated, malformed or holds a dtype LoRA files never use. */
export class SafetensorsFormatError extends LoraError {
  override readonly name = "SafetensorsFormatError";
  readonly code = "lora_invalid_safetensors";
  constructor(what: string) {
    super(`adapter_model.safetensors is not usable: ${what}`);
  }
}

/** One of the adapter's source files is missing or unreadable. */
export class MissingSourceError extends LoraError {
  override readonly name = "MissingSourceError";
  readonly code = "lora_missing_file";
  constructor(file: string) {
    super(`cannot read ${file} (missing or unreadable)`);
  }
}

/** adapter_config.json is not valid JSON, misses a field or contradicts the tensors. */
export class AdapterConfigError extends LoraError {
  override readonly name = "AdapterConfigError";
  readonly code = "lora_invalid_config";
  constructor(what: string) {
    super(`adapter_config.json is not usable: ${what}`);
  }
}

/** A PEFT method other than plain LoRA (AdaLoRA, LoHa, IA3, ...). */
export class UnsupportedPeftTypeError extends LoraError {
  override readonly name = "UnsupportedPeftTypeError";
  readonly code = "lora_unsupported_peft_type";
  constructor(peftType: string) {
    super(`peft_type ${JSON.stringify(peftType)} is not supported: only LORA adapters can be served by llama.cpp`);
  }
}

export class DoraNotSupportedError extends LoraError {
  override readonly name = "DoraNotSupportedError";
  readonly code = "lora_dora_unsupported";
  constructor() {
    super("DoRA adapters (use_dora, lora_magnitude_vector) cannot be represented in llama.cpp's LoRA format; merge the adapter into the base instead");
  }
}

export class ModulesToSaveError extends LoraError {
  override readonly name = "ModulesToSaveError";
  readonly code = "lora_modules_to_save_unsupported";
  constructor(tensors: readonly string[]) {
    super(
      `the adapter carries full weights saved through modules_to_save (${list(tensors)}), which llama.cpp adapters cannot hold; merge the adapter into the base instead`,
    );
  }
}

export class LoraBiasError extends LoraError {
  override readonly name = "LoraBiasError";
  readonly code = "lora_bias_unsupported";
  constructor(what: string) {
    super(`bias training (${what}) cannot be represented in llama.cpp's LoRA format; retrain with bias="none" and lora_bias=false`);
  }
}

export class FanInFanOutError extends LoraError {
  override readonly name = "FanInFanOutError";
  readonly code = "lora_fan_in_fan_out_unsupported";
  constructor() {
    super("fan_in_fan_out=true (Conv1D layers, e.g. GPT-2) is not supported: only llama, mistral and qwen2 linear layers are");
  }
}

/** lora_alpha 0 means "no alpha scaling" to llama.cpp, not the zero PEFT would apply. */
export class ZeroAlphaError extends LoraError {
  override readonly name = "ZeroAlphaError";
  readonly code = "lora_alpha_zero";
  constructor() {
    super("lora_alpha is 0, which llama.cpp reads as \"no alpha scaling\" (PEFT would scale by 0); refusing an adapter whose effect would differ");
  }
}

export class IncompleteLoraPairError extends LoraError {
  override readonly name = "IncompleteLoraPairError";
  readonly code = "lora_incomplete_pair";
  constructor(modules: readonly string[]) {
    super(`these modules have only one of lora_A / lora_B: ${list(modules)}`);
  }
}

export class UnknownModuleError extends LoraError {
  override readonly name = "UnknownModuleError";
  readonly code = "lora_unknown_module";
  constructor(names: readonly string[]) {
    super(
      `these adapter tensors are not LoRA weights of a known llama/mistral/qwen2 module (embed_tokens, q/k/v/o_proj, gate/up/down_proj, lm_head): ${list(names)}`,
    );
  }
}

/** The base GGUF cannot be read, or lacks what the conversion needs (architecture, head counts). */
export class InvalidBaseModelError extends LoraError {
  override readonly name = "InvalidBaseModelError";
  readonly code = "lora_invalid_base";
}

/** The base GGUF's architecture has no name mapping (or, for a GGUF adapter, differs from the adapter's). */
export class ArchitectureMismatchError extends LoraError {
  override readonly name = "ArchitectureMismatchError";
  readonly code = "lora_architecture_mismatch";
}

/** The base stores q, k and v as one fused attn_qkv tensor, which per-projection LoRA cannot target. */
export class FusedQkvBaseError extends LoraError {
  override readonly name = "FusedQkvBaseError";
  readonly code = "lora_fused_qkv_base";
  constructor(tensor: string) {
    super(`the base model fuses attention into ${tensor}, so q/k/v LoRA weights cannot be applied to it`);
  }
}

/** The adapter's shapes do not fit the base: it was trained on another model (or the file is inconsistent). */
export class ShapeMismatchError extends LoraError {
  override readonly name = "ShapeMismatchError";
  readonly code = "lora_shape_mismatch";
}

/** Embedding LoRA on a base whose output layer reuses token_embd: llama.cpp would apply it to the output too and abort. */
export class TiedEmbeddingLoraError extends LoraError {
  override readonly name = "TiedEmbeddingLoraError";
  readonly code = "lora_tied_embedding";
  constructor() {
    super(
      "the adapter trains embed_tokens but the base ties its output layer to token_embd; llama.cpp would apply the embedding LoRA to the output layer too (and crash)",
    );
  }
}

/** A weight is NaN or infinite, in the source or after narrowing to F16. */
export class NonFiniteWeightsError extends LoraError {
  override readonly name = "NonFiniteWeightsError";
  readonly code = "lora_non_finite_weights";
}

/** A ready-made GGUF adapter is not a LoRA adapter llama.cpp will load. */
export class InvalidGgufAdapterError extends LoraError {
  override readonly name = "InvalidGgufAdapterError";
  readonly code = "lora_invalid_gguf_adapter";
}

/** The adapter declares a base other than BASE_MODEL (LORA_BASE_MATCH=off skips this check). */
export class BaseModelMismatchError extends LoraError {
  override readonly name = "BaseModelMismatchError";
  readonly code = "lora_base_mismatch";
  constructor(declared: string, configured: string) {
    super(
      `the adapter was trained on ${declared} but BASE_MODEL is ${configured}; serve it on its base, or set LORA_BASE_MATCH=off if the names differ for the same weights`,
    );
  }
}

/** The adapter's declared licence differs from its base's (LORA_LICENSE_MATCH=off skips this check). */
export class LicenseMismatchError extends LoraError {
  override readonly name = "LicenseMismatchError";
  readonly code = "lora_license_mismatch";
  constructor(adapter: { repo: string; license: string | undefined }, base: { repo: string; license: string | undefined }) {
    super(
      `the adapter ${adapter.repo} declares license ${adapter.license ?? "(none)"} but its base ${base.repo} declares ${base.license ?? "(none)"}: ` +
        "they must be the same, or both listed in MODEL_LICENSES_ALLOWED; set LORA_LICENSE_MATCH=off to serve it anyway",
    );
  }
}

/** llama.cpp refused the adapter when the context was created (its own message names the local path, so it is dropped). */
export class AdapterLoadError extends LoraError {
  override readonly name = "AdapterLoadError";
  readonly code = "lora_adapter_load_failed";
  constructor() {
    super("llama.cpp could not apply the LoRA adapter to the base model");
  }
}

/** A LORA_ADAPTERS name equals the base's served name (MODEL_ALIAS, or the base file name without .gguf). */
export class DuplicateModelNameError extends LoraError {
  override readonly name = "DuplicateModelNameError";
  readonly code = "lora_duplicate_name";
  constructor(name: string) {
    super(`LORA_ADAPTERS names an adapter ${name}, which is also the base model's served name; rename the adapter or set MODEL_ALIAS`);
  }
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, 5).join(", ");
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}
