import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * The same greedy generation without HTTP: node-llama-cpp in this process, on the same GGUF and thread count, with
 * the plainest loop it offers (`sequence.evaluate`). node-llama-cpp is apps/inference's dependency, so it is resolved
 * from there.
 */
const require = createRequire(fileURLToPath(new URL("../../apps/inference/package.json", import.meta.url)));
type NodeLlamaCpp = typeof import("../../apps/inference/node_modules/node-llama-cpp/dist/index.js");

export interface InProcessModel {
  /** Tokens per second from the first token to the last, and the time to the first token. */
  generate(
    prompt: string,
    maxTokens: number,
  ): Promise<{ decodeTokensPerSecond: number; firstTokenMs: number; tokens: number }>;
  dispose(): Promise<void>;
}

export async function loadInProcess(modelPath: string, threads: number): Promise<InProcessModel> {
  const { getLlama, LlamaLogLevel } = (await import(require.resolve("node-llama-cpp"))) as NodeLlamaCpp;
  const llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: threads,
    logLevel: LlamaLogLevel.error,
    progressLogs: false,
  });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: 2048, threads: { ideal: threads, min: threads } });
  const sequence = context.getSequence();
  return {
    generate: async (prompt, maxTokens) => {
      await sequence.clearHistory();
      const tokens = [model.tokens.bos!, ...model.tokenize(prompt, true)];
      const started = performance.now();
      let first = 0;
      let count = 0;
      for await (const _token of sequence.evaluate(tokens, { temperature: 0 })) {
        if (count === 0) first = performance.now();
        if (++count >= maxTokens) break;
      }
      const last = performance.now();
      return {
        decodeTokensPerSecond: ((count - 1) / (last - first)) * 1000,
        firstTokenMs: first - started,
        tokens: count,
      };
    },
    dispose: async () => {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}
