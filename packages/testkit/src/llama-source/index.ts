export { llamaSourcePath, readLlamaSourceFile, readLlamaSourceText } from "./llama-source.ts";
