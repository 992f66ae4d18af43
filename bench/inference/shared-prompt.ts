/**
 * `pnpm bench:shared-prompt`: what sharing the prompt saves for a request with n choices. A generated llama (8 layers,
 * 512 wide, f16) in a context of 3 sequences; a ~900-token prompt is made ready for 3 choices two ways, side by side,
 * alternating, 5 rounds each: (a) evaluated once and copied to the other sequences (share-prompt.ts, what inference
 * does), (b) evaluated on every sequence (what it would do without the copy). Then each choice generates 16 greedy
 * tokens in both setups, to check they answer alike. Prints the median times and their ratio.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateTinyLlama } from "@slm/testkit";
import { sharePrompt } from "@slm/inference/engine";

const require = createRequire(fileURLToPath(new URL("../../apps/inference/package.json", import.meta.url)));
type NodeLlamaCpp = typeof import("../../apps/inference/node_modules/node-llama-cpp/dist/index.js");
const { getLlama, LlamaLogLevel } = (await import(require.resolve("node-llama-cpp"))) as NodeLlamaCpp;

const dir = await mkdtemp(join(tmpdir(), "bench-shared-prompt-"));
const modelPath = join(dir, "model.gguf");
await writeFile(
  modelPath,
  generateTinyLlama({ seed: 5, nLayer: 8, nEmbd: 512, nHead: 8, nFf: 1536, contextLength: 2048, tensorType: "f16" }),
);
const threads = Number(process.env["LLAMA_THREADS"] ?? 2);
const llama = await getLlama({
  gpu: false,
  build: "never",
  maxThreads: threads,
  logLevel: LlamaLogLevel.error,
  progressLogs: false,
});
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({
  contextSize: 1024,
  sequences: 3,
  threads: { ideal: threads, min: threads },
});
const sequences = [context.getSequence(), context.getSequence(), context.getSequence()];
const prompt = [
  model.tokens.bos!,
  ...model.tokenize("Once upon a time there was a little robot who wanted to learn. ".repeat(60), false),
].slice(0, 900);

const clear = () => Promise.all(sequences.map((s) => s.clearHistory()));
async function shared(): Promise<number> {
  await clear();
  const started = performance.now();
  await sharePrompt(sequences, prompt);
  return performance.now() - started;
}
async function separate(): Promise<number> {
  await clear();
  const started = performance.now();
  await Promise.all(sequences.map((s) => s.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1))));
  return performance.now() - started;
}
async function answers(): Promise<string[]> {
  return Promise.all(
    sequences.map(async (s) => {
      const out: number[] = [];
      for await (const token of s.evaluate(prompt.slice(-1), { temperature: 0 })) if (out.push(token) >= 16) break;
      return out.join(",");
    }),
  );
}

const times = { shared: [] as number[], separate: [] as number[] };
for (let round = 0; round < 5; round++) {
  times.separate.push(await separate());
  times.shared.push(await shared());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
await separate();
const separateAnswers = await answers();
await shared();
const sharedAnswers = await answers();
console.log(
  JSON.stringify({
    promptTokens: prompt.length,
    choices: 3,
    threads,
    sharedMs: Math.round(median(times.shared)),
    separateMs: Math.round(median(times.separate)),
    ratio: Math.round((median(times.separate) / median(times.shared)) * 100) / 100,
    sameAnswers: sharedAnswers.every((a, i) => a === separateAnswers[i]) && new Set(sharedAnswers).size === 1,
  }),
);
await context.dispose();
await model.dispose();
await llama.dispose();
await rm(dir, { recursive: true, force: true });
