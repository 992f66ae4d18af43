import { SafeError } from "@slm/config";

/*
 * Why a PEFT adapter cannot be used, by either converter (GGUF adapter or LORA_MERGE): each class has a stable `code`
 * and a one-line message naming the tensor, module or config field at fault (never a path, URL or token), safe to log
 * and to show at startup. The codes keep the `lora_` prefix they have always had.
 */

/** adapter_config.json is not valid JSON, misses a field or contradicts the tensors. */
export class AdapterConfigError extends SafeError {
  override readonly name = "AdapterConfigError";
  readonly code = "lora_invalid_config";
  constructor(what: string) {
    super(`adapter_config.json is not usable: ${what}`);
  }
}

/** A PEFT method other than plain LoRA (AdaLoRA, LoHa, IA3, ...). */
export class UnsupportedPeftTypeError extends SafeError {
  override readonly name = "UnsupportedPeftTypeError";
  readonly code = "lora_unsupported_peft_type";
  constructor(peftType: string) {
    super(`peft_type ${JSON.stringify(peftType)} is not supported: only LORA adapters can be served by llama.cpp`);
  }
}

export class DoraNotSupportedError extends SafeError {
  override readonly name = "DoraNotSupportedError";
  readonly code = "lora_dora_unsupported";
  constructor() {
    super(
      "DoRA adapters (use_dora, lora_magnitude_vector) cannot be represented in llama.cpp's LoRA format; merge the adapter into the base instead",
    );
  }
}

export class ModulesToSaveError extends SafeError {
  override readonly name = "ModulesToSaveError";
  readonly code = "lora_modules_to_save_unsupported";
  constructor(tensors: readonly string[]) {
    super(
      `the adapter carries full weights saved through modules_to_save (${list(tensors)}), which llama.cpp adapters cannot hold; merge the adapter into the base instead`,
    );
  }
}

export class LoraBiasError extends SafeError {
  override readonly name = "LoraBiasError";
  readonly code = "lora_bias_unsupported";
  constructor(what: string) {
    super(
      `bias training (${what}) cannot be represented in llama.cpp's LoRA format; retrain with bias="none" and lora_bias=false`,
    );
  }
}

export class FanInFanOutError extends SafeError {
  override readonly name = "FanInFanOutError";
  readonly code = "lora_fan_in_fan_out_unsupported";
  constructor() {
    super(
      "fan_in_fan_out=true (Conv1D layers, e.g. GPT-2) is not supported: only llama, mistral and qwen2 linear layers are",
    );
  }
}

/** lora_alpha 0 means "no alpha scaling" to llama.cpp, not the zero PEFT would apply. */
export class ZeroAlphaError extends SafeError {
  override readonly name = "ZeroAlphaError";
  readonly code = "lora_alpha_zero";
  constructor() {
    super(
      'lora_alpha is 0, which llama.cpp reads as "no alpha scaling" (PEFT would scale by 0); refusing an adapter whose effect would differ',
    );
  }
}

export class IncompleteLoraPairError extends SafeError {
  override readonly name = "IncompleteLoraPairError";
  readonly code = "lora_incomplete_pair";
  constructor(modules: readonly string[]) {
    super(`these modules have only one of lora_A / lora_B: ${list(modules)}`);
  }
}

export class UnknownModuleError extends SafeError {
  override readonly name = "UnknownModuleError";
  readonly code = "lora_unknown_module";
  constructor(names: readonly string[]) {
    super(
      `these adapter tensors are not LoRA weights of a known llama/mistral/qwen2 module (embed_tokens, q/k/v/o_proj, gate/up/down_proj, lm_head): ${list(names)}`,
    );
  }
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, 5).join(", ");
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}
