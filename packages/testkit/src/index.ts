export * from "./gguf/index.ts";
