export * from "./gguf/index.ts";
export * from "./lora/index.ts";
export * from "./process/start-service.ts";
export * from "./fake-hub/index.ts";
export * from "./stack/start-stack.ts";
