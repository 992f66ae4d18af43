import { SafeError } from "@slm/config";

/**
 * Why a transformers model cannot be converted to GGUF: each class has a stable `code` and a one-line message naming
 * the architecture, tensor, file or field at fault (never a path, URL or token), safe to log and to show at startup.
 */
export abstract class ConvertError extends SafeError {}

/** config.json names an architecture this converter does not handle. */
export class UnsupportedArchitectureError extends ConvertError {
  override readonly name = "UnsupportedArchitectureError";
  readonly code = "convert_unsupported_architecture";
  constructor(architecture: string, supported: readonly string[]) {
    super(`architecture ${JSON.stringify(architecture)} cannot be converted (supported: ${supported.join(", ")})`);
  }
}

/** config.json (or another JSON source) is unreadable or misses a field the conversion needs. */
export class InvalidModelConfigError extends ConvertError {
  override readonly name = "InvalidModelConfigError";
  readonly code = "convert_invalid_config";
  constructor(file: string, what: string) {
    super(`${file} is not usable: ${what}`);
  }
}

/** A file the conversion needs is missing or unreadable. */
export class MissingModelFileError extends ConvertError {
  override readonly name = "MissingModelFileError";
  readonly code = "convert_missing_file";
  constructor(file: string) {
    super(`the model has no readable ${file}`);
  }
}

/** The weights hold a tensor the architecture does not have (or one this converter cannot place). */
export class UnexpectedTensorError extends ConvertError {
  override readonly name = "UnexpectedTensorError";
  readonly code = "convert_unexpected_tensor";
  constructor(tensors: readonly string[]) {
    super(`the weights hold tensors this architecture has no place for: ${list(tensors)}`);
  }
}

/** A tensor the architecture needs is not in the weights, or has the wrong shape. */
export class TensorShapeError extends ConvertError {
  override readonly name = "TensorShapeError";
  readonly code = "convert_tensor_shape";
  constructor(what: string) {
    super(`the weights do not fit config.json: ${what}`);
  }
}

/** The weights are stored in a dtype the converter does not read (only F32, F16, BF16). */
export class UnsupportedDtypeError extends ConvertError {
  override readonly name = "UnsupportedDtypeError";
  readonly code = "convert_unsupported_dtype";
  constructor(tensor: string, dtype: string) {
    super(`tensor ${tensor} is stored as ${dtype}; only F32, F16 and BF16 weights can be converted`);
  }
}

/** A safetensors file is truncated or malformed. */
export class InvalidWeightsFileError extends ConvertError {
  override readonly name = "InvalidWeightsFileError";
  readonly code = "convert_invalid_weights";
  constructor(file: string, what: string) {
    super(`${file} is not usable: ${what}`);
  }
}

/** The tokenizer is of a kind llama.cpp cannot run, or its pre-tokenizer is not one llama.cpp knows. */
export class UnsupportedTokenizerError extends ConvertError {
  override readonly name = "UnsupportedTokenizerError";
  readonly code = "convert_unsupported_tokenizer";
  constructor(what: string) {
    super(`the tokenizer cannot be converted: ${what}`);
  }
}

/** tokenizer.json / tokenizer.model is malformed. */
export class InvalidTokenizerError extends ConvertError {
  override readonly name = "InvalidTokenizerError";
  readonly code = "convert_invalid_tokenizer";
  constructor(file: string, what: string) {
    super(`${file} is not usable: ${what}`);
  }
}

/** The adapter to merge (LORA_MERGE) does not fit the base. */
export class MergeAdapterError extends ConvertError {
  override readonly name = "MergeAdapterError";
  readonly code = "convert_merge_adapter";
  constructor(what: string) {
    super(`the adapter cannot be merged into the base: ${what}`);
  }
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, 5).join(", ");
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}
