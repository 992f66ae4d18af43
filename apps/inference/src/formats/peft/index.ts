// PEFT LoRA adapters as both converters read them (the GGUF adapter conversion in lora/, LORA_MERGE in convert/):
// adapter_config.json, PEFT's per-module scaling, the lora_A/lora_B pairs of adapter_model.safetensors, and what
// neither converter can represent. See docs/lora-format.md.
export { parseAdapterConfig, type AdapterConfig } from "./adapter-config.ts";
export * from "./errors.ts";
export { moduleScaling, type ModuleScaling } from "./module-scaling.ts";
export { pairLoraTensors, refuseUnrepresentable, type LoraPair } from "./pair-lora-tensors.ts";
