import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { startLlamaServer } from "@slm/testkit";
import { generate, loadEngine, type Engine, prepareCompletion, startLlama } from "@slm/inference/engine";
import { streamCompletion } from "./measure-http.ts";
import { benchModelFromFile, startInference } from "./start-inference.ts";

/**
 * The engines compared side by side on one GGUF, each behind the same interface: run `prompts.length` greedy streams
 * of `maxTokens` at once and report when each stream's first token arrived and when all ended.
 *
 *  - `llama-server`: llama.cpp's server, built natively from the same llama.cpp source (HTTP, SSE);
 *  - `nlc`: node-llama-cpp's plainest loop in this process, `sequence.evaluate` per stream, N streams on N sequences
 *    of one context, batched the way node-llama-cpp batches them (whatever decodes are queued at dispatch);
 *  - `ours`: our engine in this process (loadEngine, prepareCompletion, slot pool, step gate, generate);
 *  - `ours-no-pool`: the same without our addon patch's persistent thread pool (SLM_LLAMA_THREADPOOL=0 while its
 *    context is made), when our source build is loaded (`pnpm llama:build`); the prebuilt binary has no pool either;
 *  - `http`: our engine as users run it (`src/main.ts` as a process, /v1/completions with SSE).
 */
export interface StreamsResult {
  /** Per stream: start of the run -> first token (prompt included). */
  firstTokenMs: number[];
  /** Start of the run -> last token of the last stream. */
  wallMs: number;
  /** Tokens generated, all streams. */
  tokens: number;
  /**
   * CPU time the engine's process spent (every thread: llama.cpp's, the event loop's, the HTTP server's), in ms:
   * the work per token, which a busy machine changes far less than the wall time.
   */
  cpuMs: number;
}

export interface BenchEngine {
  name: string;
  run(prompts: readonly string[], maxTokens: number): Promise<StreamsResult>;
  stop(): Promise<void>;
}

export interface EngineSetup {
  modelPath: string;
  threads: number;
  /** Sequences (slots) of the context, the most streams measured. */
  parallel: number;
  /** Tokens per sequence. */
  contextSize: number;
  /** The llama-server binary (default: testkit's LLAMA_SERVER). */
  llamaServer?: string | undefined;
}

export type EngineKind = "llama-server" | "nlc" | "ours" | "ours-no-pool" | "http";
export const ENGINE_KINDS: readonly EngineKind[] = ["llama-server", "nlc", "ours", "ours-no-pool", "http"];

export async function startEngine(kind: EngineKind, setup: EngineSetup): Promise<BenchEngine> {
  switch (kind) {
    case "llama-server":
      return httpEngine(kind, await startLlamaServerFor(setup));
    case "nlc":
      return nodeLlamaCppEngine(setup);
    case "ours":
      return ourEngine(setup, "ours");
    case "ours-no-pool":
      return withoutThreadPool(() => ourEngine(setup, "ours-no-pool"));
    case "http": {
      const model = await benchModelFromFile(await readFile(setup.modelPath));
      const started = await startInference({
        ...model.env,
        LLAMA_THREADS: String(setup.threads),
        PARALLEL: String(setup.parallel),
        CONTEXT_SIZE: String(setup.contextSize),
        MAX_QUEUE: "64",
      });
      return httpEngine(kind, {
        url: started.url,
        pid: started.service.child.pid,
        stop: async () => {
          await started.service.stop();
          await model.close();
        },
      });
    }
  }
}

function startLlamaServerFor(setup: EngineSetup) {
  return startLlamaServer({
    ...(setup.llamaServer ? { binary: setup.llamaServer } : {}),
    modelPath: setup.modelPath,
    threads: setup.threads,
    parallel: setup.parallel,
    contextSize: setup.contextSize,
  });
}

/** utime + stime of a process, in ms (Linux; 0 elsewhere). */
function processCpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** This process's CPU time, every thread, in ms. */
function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function httpEngine(
  name: string,
  server: { url: string; pid: number | undefined; stop(): Promise<void> },
): BenchEngine {
  return {
    name,
    run: async (prompts, maxTokens) => {
      const cpu = processCpuMs(server.pid);
      const started = performance.now();
      const timings = await Promise.all(
        prompts.map((prompt) => streamCompletion({ url: server.url, prompt, maxTokens })),
      );
      return {
        firstTokenMs: timings.map((t) => t.firstTokenMs),
        wallMs: performance.now() - started,
        tokens: timings.reduce((sum, t) => sum + t.tokens, 0),
        cpuMs: processCpuMs(server.pid) - cpu,
      };
    },
    stop: () => server.stop(),
  };
}

async function nodeLlamaCppEngine(setup: EngineSetup): Promise<BenchEngine> {
  const llama = await startLlama(setup.threads);
  const model = await llama.loadModel({ modelPath: setup.modelPath, gpuLayers: 0 });
  const context = await model.createContext({
    contextSize: setup.contextSize,
    sequences: setup.parallel,
    threads: { ideal: setup.threads, min: setup.threads },
  });
  const sequences = Array.from({ length: setup.parallel }, () => context.getSequence());
  return {
    name: "nlc",
    run: async (prompts, maxTokens) => {
      const cpu = ownCpuMs();
      const started = performance.now();
      const runs = await Promise.all(
        prompts.map(async (prompt, i) => {
          const sequence = sequences[i]!;
          await sequence.clearHistory();
          let first = 0;
          let count = 0;
          for await (const _token of sequence.evaluate(model.tokenize(prompt, false), {
            temperature: 0,
            yieldEogToken: true,
          })) {
            if (count === 0) first = performance.now() - started;
            if (++count >= maxTokens) break;
          }
          return { first, count };
        }),
      );
      return {
        firstTokenMs: runs.map((r) => r.first),
        wallMs: performance.now() - started,
        tokens: runs.reduce((s, r) => s + r.count, 0),
        cpuMs: ownCpuMs() - cpu,
      };
    },
    stop: async () => {
      await context.dispose();
      await model.dispose();
    },
  };
}

/** Runs `make` with the patched addon's persistent thread pool off (it reads the switch when a context is made). */
async function withoutThreadPool<T>(make: () => Promise<T>): Promise<T> {
  const before = process.env.SLM_LLAMA_THREADPOOL;
  process.env.SLM_LLAMA_THREADPOOL = "0";
  try {
    return await make();
  } finally {
    if (before === undefined) delete process.env.SLM_LLAMA_THREADPOOL;
    else process.env.SLM_LLAMA_THREADPOOL = before;
  }
}

async function ourEngine(setup: EngineSetup, name: string): Promise<BenchEngine> {
  const engine: Engine = await loadEngine({
    llama: await startLlama(setup.threads),
    modelPath: setup.modelPath,
    threads: setup.threads,
    contextSize: setup.contextSize,
    parallel: setup.parallel,
    maxQueue: 64,
    embeddings: false,
  });
  return {
    name,
    run: async (prompts, maxTokens) => {
      const cpu = ownCpuMs();
      const started = performance.now();
      const runs = await Promise.all(
        prompts.map(async (prompt) => {
          const prepared = await prepareCompletion(engine, { prompt, maxTokens, temperature: 0 });
          let first = 0;
          const result = await engine.pool.with(undefined, (sequence) =>
            generate(sequence, prepared, {
              steps: engine.steps,
              onToken: () => {
                first ||= performance.now() - started;
              },
            }),
          );
          // A new prompt each run: the next run on this slot must not reuse the previous answer's evaluation.
          return { first, count: result.completionTokens };
        }),
      );
      return {
        firstTokenMs: runs.map((r) => r.first),
        wallMs: performance.now() - started,
        tokens: runs.reduce((s, r) => s + r.count, 0),
        cpuMs: ownCpuMs() - cpu,
      };
    },
    stop: () => engine.dispose(),
  };
}
