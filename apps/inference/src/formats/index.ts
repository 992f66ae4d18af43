// The file formats both converters (lora/: PEFT adapter -> GGUF adapter; convert/: transformers -> GGUF) read and
// write, and the disk discipline they share: GGUF writing, safetensors reading, float16, llama's rotary row order,
// PEFT adapters, atomic writes and the cache of converted files.
export {
  cachedConversion,
  sha256File,
  type CachedConversionOptions,
  type CachedConversionResult,
} from "./cached-conversion.ts";
export { encodeF16, encodeF32, encodeQ8_0 } from "./encode-tensor-data.ts";
export * from "./errors.ts";
export { float16BitsToNumber, float32ArrayToFloat16Bits, toFloat16Bits } from "./float16-bits.ts";
export {
  encodeGgufHeader,
  type GgmlTensorType,
  type GgufHeader,
  type GgufTensorInfo,
  type GgufValue,
} from "./gguf-header.ts";
export * from "./peft/index.ts";
export {
  BYTES_PER_ELEMENT,
  decodeSafetensorsData,
  headerLength,
  parseSafetensorsHeader,
  readSafetensors,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsFile,
  type SafetensorsHeader,
} from "./read-safetensors.ts";
export { reorderRotaryRows } from "./reorder-rotary-rows.ts";
export { replaceAtomically, writeFileAtomic, type AtomicWriteOptions } from "./write-file-atomic.ts";
