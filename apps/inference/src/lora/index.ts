// LoRA adapters: PEFT -> llama.cpp GGUF conversion and checks against the base. See docs/lora-format.md.
export { parseAdapterConfig, type AdapterConfig } from "./adapter-config.ts";
export { checkGgufAdapter, type GgufAdapterSummary } from "./check-gguf-adapter.ts";
export { convertCached, type ConvertCachedOptions, type ConvertCachedResult } from "./convert-cached.ts";
export { convertPeftFiles, type ConvertPeftFilesOptions } from "./convert-peft-files.ts";
export { convertPeftToGguf, CONVERTER_VERSION, type ConvertPeftOptions } from "./convert-peft-to-gguf.ts";
export * from "./errors.ts";
export { readBaseModelInfo, type BaseModelInfo } from "./read-base-model-info.ts";
