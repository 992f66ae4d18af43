import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  generateTinyLlama,
  jsonLine,
  startFakeHub,
  startService,
  type FakeHub,
  type RunningService,
  type TinyLlamaOptions,
} from "@slm/testkit";

const inferenceDir = fileURLToPath(new URL("../../apps/inference/", import.meta.url));

export interface BenchModel {
  hub: FakeHub;
  /** The GGUF as served, for in-process runs. */
  bytes: Uint8Array;
  cacheDir: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A generated model on a fake Hub (loopback) and a fresh cache directory for inference to download it into. */
export async function benchModel(options: TinyLlamaOptions): Promise<BenchModel> {
  return benchModelFromFile(generateTinyLlama(options));
}

/** Given GGUF bytes on a fake Hub (loopback) and a fresh cache directory. */
export async function benchModelFromFile(bytes: Uint8Array): Promise<BenchModel> {
  const hub = await startFakeHub();
  hub.addRepo({ id: "bench/model", files: { "model.gguf": bytes } });
  const cacheDir = await mkdtemp(join(tmpdir(), "bench-inference-cache-"));
  return {
    hub,
    bytes,
    cacheDir,
    env: { HF_ENDPOINT: hub.url, MODEL_CACHE_DIR: cacheDir, MODEL_ID: "bench/model", MODEL_FILE: "model.gguf" },
    close: async () => {
      await hub.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

export interface StartedInference {
  service: RunningService<Record<string, unknown>>;
  url: string;
  /** From spawn to the "ready" log line. */
  readyMs: number;
  /** The "ready" log line (threads chosen, context size, ...). */
  ready: Record<string, unknown>;
}

/** Starts apps/inference as users do (`node --import tsx src/main.ts`) and waits for "ready". */
export async function startInference(env: Record<string, string>): Promise<StartedInference> {
  const started = performance.now();
  const service = await startService<Record<string, unknown>>({
    command: ["node", "--import", "tsx", "src/main.ts"],
    cwd: inferenceDir,
    env: { INFERENCE_PORT: "0", LOG_LEVEL: "info", ...llamaKnobs(), ...env },
    readyWhen: (line) => {
      const json = jsonLine(line);
      return json?.msg === "ready" ? json : undefined;
    },
    timeoutMs: 120_000,
  });
  const readyMs = performance.now() - started;
  const listening = service.lines.map(jsonLine).find((j) => j?.msg === "inference listening");
  return { service, url: `http://127.0.0.1:${String(listening?.port)}`, readyMs, ready: service.ready };
}

/**
 * Passed through to the service as to the in-process engines: which llama.cpp build node-llama-cpp loads
 * (NODE_LLAMA_CPP_CMAKE_OPTION_*) and the patched addon's switches (SLM_LLAMA_THREADPOOL, SLM_LLAMA_THREADPOOL_POLL).
 */
function llamaKnobs(): Record<string, string> {
  const passed = (name: string) => name.startsWith("SLM_LLAMA_") || name.startsWith("NODE_LLAMA_CPP_CMAKE_OPTION_");
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => passed(e[0]) && e[1] !== undefined),
  );
}
