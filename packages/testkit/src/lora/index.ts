export { generatePeftAdapter, type PeftAdapter, type PeftAdapterOverrides } from "./peft-adapter.ts";
export { generateLoraBase, generateMergedLlama } from "./merged-llama.ts";
export {
  DEFAULT_LORA_TARGETS,
  drawLoraWeights,
  type LoraModuleWeights,
  type LoraTargetModule,
  type TinyLoraOptions,
} from "./lora-weights.ts";
export { writeSafetensors, type SafetensorsDtype, type SafetensorsTensor } from "./write-safetensors.ts";
export { decodeHalf, encodeHalf, type HalfDtype } from "./half-precision.ts";
