import { startEngine, ENGINE_KINDS, type BenchEngine, type EngineKind } from "./engines.ts";
import { llamaTools } from "./llama-tools.ts";
import { qwen05bModel } from "./qwen-model.ts";
import { startLlama } from "@slm/inference/engine";

/**
 * The realistic case: a Qwen2.5-0.5B-shaped Q4_K_M model (see qwen-model.ts) on llama-server, node-llama-cpp's plain
 * loop, our engine in-process and our engine over HTTP, side by side: for each thread count, all engines are loaded
 * with that many threads and, per stream count, run in alternating rounds (the engine order rotates each round), so
 * a noisy neighbour hits them alike. Reported as medians and as ratios to llama-server.
 *
 *   pnpm bench:inference --case qwen05b [--threads 1,2] [--streams 1,2,4,8] [--rounds 3] [--tokens 96]
 *                        [--engines llama-server,nlc,ours,ours-no-pool,http] [--model-file other.gguf]
 */
export interface QwenCaseOptions {
  threads: number[];
  streams: number[];
  rounds: number;
  tokens: number;
  engines: EngineKind[];
  /** Another GGUF to compare on instead of the generated one. */
  modelFile: string | undefined;
}

const CONTEXT_SIZE = 512;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function parseQwenCaseArgs(arg: (name: string, fallback: string) => string): QwenCaseOptions {
  const list = (name: string, fallback: string) => arg(name, fallback).split(",").filter(Boolean);
  const engines = list("engines", ENGINE_KINDS.join(",")) as EngineKind[];
  for (const e of engines)
    if (!ENGINE_KINDS.includes(e)) throw new Error(`unknown engine ${e} (one of ${ENGINE_KINDS.join(", ")})`);
  return {
    threads: list("threads", "1,2").map(Number),
    streams: list("streams", "1,2,4,8").map(Number),
    rounds: Number(arg("rounds", "3")),
    tokens: Number(arg("tokens", "96")),
    engines,
    modelFile: arg("model-file", "") || undefined,
  };
}

export async function runQwenCase(options: QwenCaseOptions): Promise<string[]> {
  const tools = options.engines.includes("llama-server") || !options.modelFile ? await llamaTools() : undefined;
  const modelPath = options.modelFile ?? (await qwen05bModel(tools!));
  const parallel = Math.max(...options.streams);
  const llama = await startLlama(1);
  const build =
    llama.buildType === "localBuild"
      ? "our source build (`pnpm llama:build`, with our thread-pool patch)"
      : `node-llama-cpp's ${llama.buildType} binary, without our thread-pool patch (slower with 2+ threads: run \`pnpm llama:build\` first to measure our source build, docs/llama-source-build.md)`;
  if (llama.buildType !== "localBuild") console.warn(`llama.cpp in our engines: ${build}`);
  await llama.dispose();
  const lines: string[] = [
    `llama.cpp in our engines: ${build}`,
    `model: ${options.modelFile ?? "Qwen2.5-0.5B-shaped Q4_K_M (random weights, Qwen2 vocabulary)"}; greedy streams of ${options.tokens} tokens; ` +
      `${options.rounds} alternating rounds; ${parallel} slots of ${CONTEXT_SIZE} tokens`,
    "",
    "| engine | threads | streams | tok/s (all streams) | vs llama-server | TTFT ms | TTFT vs llama-server | CPU ms/token | vs llama-server | tok/s min-max |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  let round = 0;
  for (const threads of options.threads) {
    const engines: BenchEngine[] = [];
    try {
      for (const kind of options.engines)
        engines.push(
          await startEngine(kind, {
            modelPath,
            threads,
            parallel,
            contextSize: CONTEXT_SIZE,
            llamaServer: tools?.server,
          }),
        );
      // Warm-up: every engine generates once before anything is timed.
      for (const engine of engines) await engine.run(["Warm up"], 8);
      for (const streams of options.streams) {
        const results = new Map<string, { tps: number[]; ttft: number[]; cpu: number[] }>(
          engines.map((e) => [e.name, { tps: [], ttft: [], cpu: [] }]),
        );
        for (let r = 0; r < options.rounds; r++) {
          const order = engines.map((_, i) => engines[(i + r) % engines.length]!);
          for (const engine of order) {
            // A fresh prompt per run: no engine reuses an earlier run's prompt evaluation.
            const prompts = Array.from(
              { length: streams },
              (_, i) => `Story ${++round}-${i}: once upon a time there was a`,
            );
            const result = await engine.run(prompts, options.tokens);
            if (result.tokens !== streams * options.tokens)
              console.warn(`${engine.name}: ${result.tokens} tokens, expected ${streams * options.tokens}`);
            results.get(engine.name)!.tps.push((result.tokens / result.wallMs) * 1000);
            results.get(engine.name)!.ttft.push(mean(result.firstTokenMs));
            results.get(engine.name)!.cpu.push(result.cpuMs / result.tokens);
          }
        }
        const reference = results.get("llama-server");
        for (const engine of engines) {
          const { tps, ttft, cpu } = results.get(engine.name)!;
          // Ratios per round (the two ran side by side), then their median.
          const ratio = reference ? median(tps.map((x, i) => x / reference.tps[i]!)).toFixed(2) : "-";
          const ttftRatio = reference ? median(ttft.map((x, i) => x / reference.ttft[i]!)).toFixed(2) : "-";
          const cpuRatio = reference ? median(cpu.map((x, i) => x / reference.cpu[i]!)).toFixed(2) : "-";
          const line = `| ${engine.name} | ${threads} | ${streams} | ${median(tps).toFixed(1)} | ${ratio} | ${median(ttft).toFixed(0)} | ${ttftRatio} | ${median(cpu).toFixed(1)} | ${cpuRatio} | ${Math.min(...tps).toFixed(1)}-${Math.max(...tps).toFixed(1)} |`;
          lines.push(line);
          console.log(line);
        }
      }
    } finally {
      for (const engine of engines) await engine.stop();
    }
  }
  return lines;
}
