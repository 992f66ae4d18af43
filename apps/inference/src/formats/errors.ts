import { SafeError } from "@slm/config";

/*
 * Errors of the shared file formats: each has a stable `code` and a one-line message naming the tensor or field at
 * fault (never a path), safe to log and to show at startup. Their codes keep the `lora_` prefix they had when these
 * readers served only the LoRA converter. The PEFT adapter's own refusals are in peft/errors.ts.
 */

/**
 * A safetensors file is truncated, malformed or holds a dtype we do not read. The message names
 * adapter_model.safetensors, the one file read whole; the transformers converter, which reads model shards piece by
 * piece, reports these as its own InvalidWeightsFileError (convert/read-weight-shards.ts).
 */
export class SafetensorsFormatError extends SafeError {
  override readonly name = "SafetensorsFormatError";
  readonly code = "lora_invalid_safetensors";
  constructor(what: string) {
    super(`adapter_model.safetensors is not usable: ${what}`);
  }
}

/**
 * A tensor's shape does not fit the model: an adapter trained on another model (or an inconsistent file), or rows
 * that cannot be split into the model's attention heads.
 */
export class ShapeMismatchError extends SafeError {
  override readonly name = "ShapeMismatchError";
  readonly code = "lora_shape_mismatch";
}
