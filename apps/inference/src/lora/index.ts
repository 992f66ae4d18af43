// LoRA adapters served with llama.cpp: PEFT -> GGUF adapter conversion (cached), checks against the base, and the
// adapters made ready at startup. The PEFT files themselves are read by formats/peft/. See docs/lora-format.md.
export { checkAdapterCompatibility, type AdapterFacts } from "./check-adapter-compatibility.ts";
export { checkGgufAdapter, type GgufAdapterSummary } from "./check-gguf-adapter.ts";
export { convertCached, type ConvertCachedOptions, type ConvertCachedResult } from "./convert-cached.ts";
export { convertPeftFiles, type ConvertPeftFilesOptions } from "./convert-peft-files.ts";
export { convertPeftToGguf, CONVERTER_VERSION, type ConvertPeftOptions } from "./convert-peft-to-gguf.ts";
export * from "./errors.ts";
export { LORA_CACHE_FOLDER, type PreparedAdapter } from "./prepare-adapter.ts";
export { checkDistinctNames, prepareAdapters, type AdapterArtifact, type ReadyAdapter } from "./prepare-adapters.ts";
export { readBaseModelInfo, type BaseModelInfo } from "./read-base-model-info.ts";
