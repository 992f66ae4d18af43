export * from "./gguf/index.ts";
export * from "./lora/index.ts";
export * from "./process/start-service.ts";
export { freePort } from "./process/free-port.ts";
export { denoExecutable } from "./process/deno-executable.ts";
export * from "./fake-hub/index.ts";
export * from "./stack/start-stack.ts";
export * from "./llama-source/index.ts";
export {
  hasLlamaServer,
  LLAMA_SERVER,
  startLlamaServer,
  type LlamaServerOptions,
  type StartedLlamaServer,
} from "./llama-server/start-llama-server.ts";
export * from "./transformers/index.ts";
export * from "./chaos/cut-requests.ts";
