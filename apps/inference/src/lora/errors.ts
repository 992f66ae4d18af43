import { SafeError } from "@slm/config";

/**
 * Why an adapter cannot be served: each class has a stable `code` and a one-line message naming the tensor, module
 * or config field at fault (never a path, URL or token), safe to log and to show at startup. The refusals of the
 * PEFT adapter format itself (formats/peft/errors.ts) and of the shared readers (formats/errors.ts) are SafeErrors of
 * their own, since the transformers converter reads adapters too (LORA_MERGE).
 */
export abstract class LoraError extends SafeError {}

/** One of the adapter's source files is missing or unreadable. */
export class MissingSourceError extends LoraError {
  override readonly name = "MissingSourceError";
  readonly code = "lora_missing_file";
  constructor(file: string) {
    super(`cannot read ${file} (missing or unreadable)`);
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
  constructor(
    adapter: { repo: string; license: string | undefined },
    base: { repo: string; license: string | undefined },
  ) {
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
    super(
      `LORA_ADAPTERS names an adapter ${name}, which is also the base model's served name; rename the adapter or set MODEL_ALIAS`,
    );
  }
}
