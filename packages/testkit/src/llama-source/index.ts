export { listLlamaSourceFiles, llamaSourcePath, readLlamaSourceFile, readLlamaSourceText } from "./llama-source.ts";
