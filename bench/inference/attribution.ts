import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { startLlamaServer } from "@slm/testkit";
import { generate, loadEngine, type Engine, prepareCompletion, startLlama } from "@slm/inference/engine";
import { llamaTools, type LlamaTools } from "./llama-tools.ts";
import { qwen05bModel } from "./qwen-model.ts";

const run = promisify(execFile);

/**
 * Where a token's time goes, per token, in alternating rounds on the Qwen2.5-0.5B-shaped model:
 *  - llama-bench's decode alone (`-p 0 -n N`: llama.cpp with a persistent thread pool, no sampling, no server);
 *  - llama-server's own per-token time (`timings.predicted_per_token_ms`: decode + sampling in its loop);
 *  - our engine in-process, split by timing node-llama-cpp's native calls: decode (the decodeBatch worker, from the
 *    call to its promise settling, hand-offs included), sampling (the sampleToken worker, likewise), detokenizing,
 *    waiting in the step gate, and the rest (JavaScript between them: node-llama-cpp's batch queue, our loop).
 *
 *   pnpm bench:inference --case attribution [--threads 1,2] [--streams 1,4] [--rounds 3] [--tokens 96]
 */
export interface AttributionOptions {
  threads: number[];
  streams: number[];
  rounds: number;
  tokens: number;
}

interface Split {
  /** decodeBatch calls (llama.cpp batches): one per step when the streams are batched together. */
  decodes: number;
  decode: number;
  sample: number;
  detokenize: number;
  gate: number;
  total: number;
  tokens: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function runAttribution(options: AttributionOptions): Promise<string[]> {
  const tools = await llamaTools();
  const modelPath = await qwen05bModel(tools);
  const parallel = Math.max(...options.streams);
  const lines = [
    `per-token ms, medians of ${options.rounds} alternating rounds, greedy ${options.tokens} tokens per stream`,
    "",
    "| threads | streams | llama-bench decode | llama-server per token | loop | batches per step | total | decode | sample | detokenize | step gate | rest |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  let round = 0;
  for (const threads of options.threads) {
    const server = await startLlamaServer({ binary: tools.server, modelPath, threads, parallel, contextSize: 512 });
    const engine = await loadEngine({
      llama: await startLlama(threads),
      modelPath,
      threads,
      contextSize: 512,
      parallel,
      maxQueue: 64,
      embeddings: false,
    }).catch(async (error: unknown) => {
      await server.stop();
      throw error;
    });
    try {
      const probe = instrument(engine);
      await ours(engine, probe, ["Warm up"], 8);
      for (const streams of options.streams) {
        const bench: number[] = [];
        const ls: number[] = [];
        const splits: Split[] = [];
        const plain: Split[] = [];
        for (let r = 0; r < options.rounds; r++) {
          const prompts = Array.from(
            { length: streams },
            (_, i) => `Story ${++round}-${i}: once upon a time there was a`,
          );
          if (streams === 1) bench.push(await llamaBench(tools, modelPath, threads, options.tokens));
          ls.push(median(await Promise.all(prompts.map((p) => llamaServerPerToken(server.url, p, options.tokens)))));
          splits.push(await ours(engine, probe, prompts, options.tokens));
          plain.push(await plainLoop(engine, probe, prompts, options.tokens));
        }
        for (const [loop, list] of [
          ["ours (generate)", splits],
          ["plain sequence.evaluate", plain],
        ] as const) {
          const per = (key: keyof Split) => median(list.map((s) => s[key] / s.tokens));
          const rest = median(list.map((s) => (s.total - s.decode - s.sample - s.detokenize - s.gate) / s.tokens));
          const cells = [per("total"), per("decode"), per("sample"), per("detokenize"), per("gate"), rest];
          const head = [
            String(threads),
            String(streams),
            streams === 1 ? median(bench).toFixed(2) : "-",
            median(ls).toFixed(2),
            loop,
            per("decodes").toFixed(2),
          ];
          const line = `| ${[...head, ...cells.map((c) => c.toFixed(2))].join(" | ")} |`;
          lines.push(line);
          console.log(line);
        }
      }
    } finally {
      await engine.dispose();
      await server.stop();
    }
  }
  lines.push(
    "",
    "For N streams, ours total is wall time per step (one token for each stream); llama-server's is per stream.",
  );
  return lines;
}

interface Probe {
  reset(): void;
  split(): Omit<Split, "total" | "tokens">;
}

/** Times node-llama-cpp's native decode and sample calls, detokenize and the step gate (benchmark only). */
function instrument(engine: Engine): Probe {
  const totals = { decodes: 0, decode: 0, sample: 0, detokenize: 0, gate: 0 };
  // The native context object behind LlamaContext (internal to node-llama-cpp).
  const native = (engine.context as unknown as { _ctx: Record<string, (...args: unknown[]) => unknown> })._ctx;
  const timeAsync = (
    target: Record<string, (...args: unknown[]) => unknown>,
    name: string,
    key: keyof typeof totals,
  ) => {
    const original = target[name]!.bind(target);
    // Native methods are read-only on the prototype: shadowed on the instance.
    Object.defineProperty(target, name, {
      configurable: true,
      value: (...args: unknown[]) => {
        const started = performance.now();
        if (key === "decode") totals.decodes++;
        const result = original(...args) as Promise<unknown>;
        return result.finally(() => (totals[key] += performance.now() - started));
      },
    });
  };
  timeAsync(native, "decodeBatch", "decode");
  timeAsync(native, "sampleToken", "sample");
  const model = engine.model as unknown as { detokenize: (...args: unknown[]) => string };
  const detokenize = model.detokenize.bind(model);
  Object.defineProperty(model, "detokenize", {
    configurable: true,
    value: (...args: unknown[]) => {
      const started = performance.now();
      try {
        return detokenize(...args);
      } finally {
        totals.detokenize += performance.now() - started;
      }
    },
  });
  timeAsync(engine.steps as unknown as Record<string, (...args: unknown[]) => unknown>, "arrive", "gate");
  return {
    reset: () => Object.assign(totals, { decodes: 0, decode: 0, sample: 0, detokenize: 0, gate: 0 }),
    split: () => ({ ...totals }),
  };
}

/** Our engine in-process: per-step sums (a step serves every stream at once, so sums are divided by one stream's tokens). */
async function ours(engine: Engine, probe: Probe, prompts: string[], maxTokens: number): Promise<Split> {
  const prepared = await Promise.all(
    prompts.map((prompt) => prepareCompletion(engine, { prompt, maxTokens, temperature: 0 })),
  );
  // Timed from the first token: the prompt is not part of a token's time.
  let first = 0;
  const results = await Promise.all(
    prepared.map((p) =>
      engine.pool.with(undefined, (sequence) =>
        generate(sequence, p, {
          steps: engine.steps,
          onToken: () => {
            if (first === 0) {
              first = performance.now();
              probe.reset();
            }
          },
        }),
      ),
    ),
  );
  const total = performance.now() - first;
  const split = probe.split();
  const streams = prompts.length;
  // Gate waits overlap across streams: one stream's share.
  return {
    ...split,
    gate: split.gate / streams,
    sample: split.sample / streams,
    detokenize: split.detokenize,
    total,
    tokens: results[0]!.completionTokens - 1,
  };
}

/** node-llama-cpp's plainest loop on the same context and sequences (no step gate, no detokenizing). */
async function plainLoop(engine: Engine, probe: Probe, prompts: string[], maxTokens: number): Promise<Split> {
  let first = 0;
  const counts = await Promise.all(
    prompts.map((prompt) =>
      engine.pool.with(undefined, async (sequence) => {
        await sequence.clearHistory();
        let count = 0;
        for await (const _token of sequence.evaluate(engine.model.tokenize(prompt, false), {
          temperature: 0,
          yieldEogToken: true,
        })) {
          if (first === 0) {
            first = performance.now();
            probe.reset();
          }
          if (++count >= maxTokens) break;
        }
        return count;
      }),
    ),
  );
  const total = performance.now() - first;
  const split = probe.split();
  const streams = prompts.length;
  return { ...split, gate: 0, sample: split.sample / streams, total, tokens: counts[0]! - 1 };
}

async function llamaServerPerToken(url: string, prompt: string, maxTokens: number): Promise<number> {
  const response = await fetch(`${url}/completion`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, n_predict: maxTokens, temperature: 0, cache_prompt: false }),
  });
  const body = (await response.json()) as { timings?: { predicted_per_token_ms?: number } };
  return body.timings?.predicted_per_token_ms ?? NaN;
}

async function llamaBench(tools: LlamaTools, modelPath: string, threads: number, tokens: number): Promise<number> {
  if (!existsSync(tools.bench)) return NaN;
  const { stdout } = await run(
    tools.bench,
    ["-m", modelPath, "-p", "0", "-n", String(tokens), "-t", String(threads), "-r", "1", "-o", "json"],
    { maxBuffer: 16 << 20 },
  );
  const [result] = JSON.parse(stdout) as Array<{ avg_ts: number }>;
  return 1000 / result!.avg_ts;
}
