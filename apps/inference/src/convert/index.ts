// transformers (safetensors + tokenizer files) → GGUF, following llama.cpp's convert_hf_to_gguf.py (LORA_MERGE folds a PEFT
// adapter in), cached; prepareBase makes the configured transformers base ready at startup. See docs/transformers-conversion.md.
export { SUPPORTED_ARCHITECTURES } from "./architectures.ts";
export {
  convertTokenizer,
  preTokenizerHash,
  type ConvertedTokenizer,
  type TokenizerInputs,
} from "./convert-tokenizer.ts";
export {
  convertTransformersToGguf,
  prepareTransformersConversion,
  TRANSFORMERS_CONVERTER_VERSION,
  type ConvertTransformersOptions,
  type PreparedConversion,
  type TransformersOutType,
} from "./convert-transformers.ts";
export { convertTransformersCached, type ConvertTransformersCachedOptions } from "./convert-transformers-cached.ts";
export { detectRepoFormat, transformersFilesToFetch } from "./detect-repo-format.ts";
export * from "./errors.ts";
export {
  BASE_CACHE_FOLDER,
  prepareBase,
  type PrepareBaseOptions,
  type PreparedBase,
  type VerifiedTransformersBase,
} from "./prepare-base.ts";
