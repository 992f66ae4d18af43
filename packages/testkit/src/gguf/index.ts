export {
  writeGguf,
  type GgmlType,
  type GgufMetadata,
  type GgufMetadataValue,
  type GgufTensor,
  type WriteGgufParams,
} from "./writer.ts";
export { toFloat16Bits } from "./float16.ts";
export { parseGguf, readF32Tensors } from "./parse-for-tests.ts";
export { permuteForLlamaRope } from "./llama-rope-permute.ts";
export { buildLlamaVocab, BOS_TOKEN_ID, EOS_TOKEN_ID, TokenType, UNK_TOKEN_ID, type LlamaVocab } from "./vocab.ts";
export {
  BENCHMARK_LLAMA_OPTIONS,
  generateTinyLlama,
  tinyLlamaMetadata,
  tinyLlamaParameterCount,
  type TinyLlamaOptions,
} from "./tiny-llama.ts";
export { generateVocabModel, type VocabModelArchitecture, type VocabModelOptions } from "./vocab-model.ts";
export { readTokenizerMetadata } from "./read-tokenizer-metadata.ts";
