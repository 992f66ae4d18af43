// Random-weight transformers-format model folders (config.json, safetensors, tokenizer files) for converter tests.
export {
  generateTransformersModel,
  type TransformersArchitecture,
  type TransformersModel,
  type TransformersModelOptions,
} from "./generate-transformers-model.ts";
export {
  byteToUnicode,
  LLAMA3_PRE_TOKENIZER,
  SYNTHETIC_SPECIAL_TOKENS,
  syntheticTokenizer,
  type TokenizerFiles,
} from "./synthetic-tokenizer.ts";
export {
  readRealTokenizer,
  realTokenizerPaths,
  tokenizerSize,
  truncateTokenizer,
  type RealTokenizerName,
} from "./real-tokenizer.ts";
export { writeSentencePieceModel, type SentencePieceEntry } from "./write-sentencepiece-model.ts";
export { writeReferenceGguf, type ReferenceGgufOptions } from "./reference-gguf.ts";
