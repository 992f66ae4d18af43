import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BENCHMARK_LLAMA_OPTIONS,
  hasLlamaServer,
  LLAMA_SERVER,
  startLlamaServer,
  tinyLlamaParameterCount,
  type TinyLlamaOptions,
} from "@slm/testkit";
import { aggregate, streamCompletion } from "./measure-http.ts";
import { loadInProcess } from "./measure-in-process.ts";
import { runAttribution } from "./attribution.ts";
import { runPromptLookup } from "./prompt-lookup-case.ts";
import { parseQwenCaseArgs, runQwenCase } from "./qwen-case.ts";
import { benchModel, startInference, type StartedInference } from "./start-inference.ts";

/**
 * Inference throughput and startup, measured side by side in one run (medians over interleaved rounds):
 *  - single-stream decode tokens/s through HTTP streaming vs the same greedy generation in-process (node-llama-cpp,
 *    same GGUF, same threads), for a generated >=50M-parameter model and the tiny test model;
 *  - aggregate tokens/s with 1, 2, 4 and 8 concurrent streams;
 *  - time from process start to ready with the model already cached (HF_HUB_OFFLINE=1);
 *  - the same against llama.cpp's llama-server when a binary is available (see README, "Benchmarks").
 *
 *   pnpm bench:inference [--model tiny|bench|both] [--rounds 3] [--llama-server-threads 1,2]
 *
 * The realistic case (a Qwen2.5-0.5B-shaped Q4_K_M model, all engines side by side) is `--case qwen05b`, see qwen-case.ts;
 * where a token's time goes on it, `--case attribution` (attribution.ts); prompt-lookup decoding on and off,
 * `--case prompt-lookup` (prompt-lookup-case.ts).
 */
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
if (arg("case", "") === "qwen05b") {
  const lines = await runQwenCase(parseQwenCaseArgs(arg));
  console.log(`\n${lines.join("\n")}`);
  process.exit(0);
}
if (arg("case", "") === "prompt-lookup") {
  const list = (name: string, fallback: string) => arg(name, fallback).split(",").map(Number);
  const lines = await runPromptLookup({
    threads: list("threads", "1,2"),
    streams: list("streams", "1,4"),
    rounds: Number(arg("rounds", "3")),
    tokens: Number(arg("tokens", "96")),
  });
  console.log(`\n${lines.join("\n")}`);
  process.exit(0);
}
if (arg("case", "") === "attribution") {
  const list = (name: string, fallback: string) => arg(name, fallback).split(",").map(Number);
  const lines = await runAttribution({
    threads: list("threads", "1,2"),
    streams: list("streams", "1,4"),
    rounds: Number(arg("rounds", "3")),
    tokens: Number(arg("tokens", "96")),
  });
  console.log(`\n${lines.join("\n")}`);
  process.exit(0);
}
const rounds = Number(arg("rounds", "3"));
const which = arg("model", "both");
const llamaServerThreads = arg("llama-server-threads", "1,2").split(",").map(Number);
const PARALLEL = 8;
const PROMPT = "Once upon a time there was a";

const MODELS: Array<{
  name: string;
  options: TinyLlamaOptions;
  singleTokens: number;
  streamTokens: number;
  contextSize: number;
}> = [
  {
    name: "bench",
    options: { ...BENCHMARK_LLAMA_OPTIONS, seed: 7, contextLength: 2048 },
    singleTokens: 128,
    streamTokens: 64,
    contextSize: 512,
  },
  { name: "tiny", options: { seed: 11 }, singleTokens: 256, streamTokens: 128, contextSize: 512 },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 1) : "-");
const rows: string[] = [];
const row = (...cells: Array<string | number>) => {
  const line = `| ${cells.map((c) => (typeof c === "number" ? fmt(c) : c)).join(" | ")} |`;
  rows.push(line);
  console.log(line);
};

for (const spec of MODELS.filter((m) => which === "both" || m.name === which)) {
  const params = tinyLlamaParameterCount(spec.options);
  console.log(`\n## ${spec.name}: ${(params / 1e6).toFixed(1)}M parameters`);
  const model = await benchModel(spec.options);
  const dir = await mkdtemp(join(tmpdir(), "bench-inference-"));
  const modelPath = join(dir, "model.gguf");
  await writeFile(modelPath, model.bytes);
  const env = { ...model.env, PARALLEL: String(PARALLEL), CONTEXT_SIZE: String(spec.contextSize), MAX_QUEUE: "64" };
  let ours: StartedInference | undefined;
  try {
    // Startup: the first start downloads into the cache; then cached starts, offline.
    ours = await startInference(env);
    await ours.service.stop();
    const startups: number[] = [];
    const processStartups: number[] = [];
    for (let i = 0; i < rounds; i++) {
      ours = await startInference({ ...env, HF_HUB_OFFLINE: "1" });
      startups.push(ours.readyMs);
      processStartups.push(Number(ours.ready["startupMs"]));
      if (i < rounds - 1) await ours.service.stop();
    }
    const threads = Number(ours!.ready["threads"]);
    console.log(`threads chosen: ${threads} (${JSON.stringify(ours!.ready["threadsMeasured"])})`);
    const inProcess = await loadInProcess(modelPath, threads);
    await inProcess.generate(PROMPT, 8);
    await streamCompletion({ url: ours!.url, prompt: PROMPT, maxTokens: 8 });

    const llamaServers = hasLlamaServer()
      ? await Promise.all(
          llamaServerThreads.map(async (t) => ({
            threads: t,
            server: await startLlamaServer({
              modelPath,
              threads: t,
              parallel: PARALLEL,
              contextSize: spec.contextSize,
            }),
          })),
        )
      : [];

    // Single stream, interleaved.
    const single = {
      http: [] as number[],
      httpTtft: [] as number[],
      inProcess: [] as number[],
      inTtft: [] as number[],
    };
    const singleLs = new Map<number, { tps: number[]; ttft: number[] }>(
      llamaServers.map((l) => [l.threads, { tps: [], ttft: [] }]),
    );
    for (let i = 0; i < rounds; i++) {
      const h = await streamCompletion({ url: ours!.url, prompt: PROMPT, maxTokens: spec.singleTokens });
      single.http.push(h.decodeTokensPerSecond);
      single.httpTtft.push(h.firstTokenMs);
      const p = await inProcess.generate(PROMPT, spec.singleTokens);
      single.inProcess.push(p.decodeTokensPerSecond);
      single.inTtft.push(p.firstTokenMs);
      for (const l of llamaServers) {
        const t = await streamCompletion({ url: l.server.url, prompt: PROMPT, maxTokens: spec.singleTokens });
        singleLs.get(l.threads)!.tps.push(t.decodeTokensPerSecond);
        singleLs.get(l.threads)!.ttft.push(t.firstTokenMs);
      }
    }
    await inProcess.dispose();

    // Aggregate, interleaved per concurrency.
    const agg = new Map<string, number[]>();
    const record = (key: string, value: number) => agg.set(key, [...(agg.get(key) ?? []), value]);
    for (const streams of [1, 2, 4, 8]) {
      for (let i = 0; i < rounds; i++) {
        record(
          `ours:${streams}`,
          (await aggregate({ url: ours!.url, prompt: PROMPT, maxTokens: spec.streamTokens }, streams)).tokensPerSecond,
        );
        for (const l of llamaServers) {
          record(
            `ls${l.threads}:${streams}`,
            (await aggregate({ url: l.server.url, prompt: PROMPT, maxTokens: spec.streamTokens }, streams))
              .tokensPerSecond,
          );
        }
      }
    }

    console.log("");
    row(
      "model",
      "server",
      "threads",
      "single stream tok/s",
      "TTFT ms",
      "1 stream",
      "2 streams",
      "4 streams",
      "8 streams",
      "ready ms (cached)",
    );
    row("---", "---", "---", "---", "---", "---", "---", "---", "---", "---");
    const aggCells = (prefix: string) => [1, 2, 4, 8].map((s) => median(agg.get(`${prefix}:${s}`) ?? []));
    row(
      spec.name,
      "slm-serve (HTTP SSE)",
      String(threads),
      median(single.http),
      median(single.httpTtft),
      ...aggCells("ours"),
      `${fmt(median(startups))} (in-process ${fmt(median(processStartups))})`,
    );
    row(
      spec.name,
      "node-llama-cpp in-process",
      String(threads),
      median(single.inProcess),
      median(single.inTtft),
      "-",
      "-",
      "-",
      "-",
      "-",
    );
    for (const l of llamaServers) {
      const s = singleLs.get(l.threads)!;
      row(
        spec.name,
        "llama-server (HTTP SSE)",
        String(l.threads),
        median(s.tps),
        median(s.ttft),
        ...aggCells(`ls${l.threads}`),
        l.server.readyMs,
      );
      await l.server.stop();
    }
    if (llamaServers.length === 0) console.log(`(no llama-server at ${LLAMA_SERVER}: comparison skipped)`);
  } finally {
    await ours?.service.stop();
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
}
console.log(`\n${rows.join("\n")}`);
