import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { jsonLine, type RunningService, startLlamaServer, startService } from "@slm/testkit";
import type { BenchModel } from "../inference/start-inference.ts";
import { startInference, type StartedInference } from "../inference/start-inference.ts";
import type { Target } from "./workload.ts";

const gatewayDir = fileURLToPath(new URL("../../apps/gateway/", import.meta.url));

/**
 * The engines of the conversation benchmark, each started fresh (an empty cache) and stopped after its run:
 *  - `llama-server`: llama.cpp's server, `-np S -t T -c S*ctx`, its defaults otherwise (slot reuse by prompt
 *    similarity, `cache_prompt`, its RAM prompt cache `--cache-ram`); `llama-server-no-cache` adds `--cache-ram 0`
 *    and `cache_prompt: false` per request (every prompt evaluated in full);
 *  - `ours`: apps/inference as a process, PARALLEL=S, LLAMA_THREADS=T;
 *  - `gateway`: apps/gateway in front of one such inference process;
 *  - `gateway-replicas`: apps/gateway in front of R inference processes of 1 slot each (INFERENCE_URL lists them).
 * Our engines run with PROMPT_CACHE_BYTES=0 when `cacheOff` (the prompt cache off), else with the service default
 * (or PROMPT_CACHE_BYTES of this process's environment when set).
 */
export type ConversationEngine = "llama-server" | "ours" | "gateway" | "gateway-replicas";
export const CONVERSATION_ENGINES: readonly ConversationEngine[] = [
  "llama-server",
  "ours",
  "gateway",
  "gateway-replicas",
];

export interface ServerSetup {
  modelPath: string;
  /** The model on a fake Hub, for our inference processes (shared: the first start downloads it into its cache). */
  model: BenchModel;
  llamaServer: string;
  threads: number;
  slots: number;
  replicas: number;
  /** Tokens per slot. */
  contextSize: number;
  cacheOff: boolean;
}

export interface RunningTarget extends Target {
  /** Process ids whose CPU time is the engine's. */
  pids: number[];
  /** Inference processes (for their log lines). */
  inference: StartedInference[];
  stop(): Promise<void>;
}

export async function startTarget(kind: ConversationEngine, setup: ServerSetup): Promise<RunningTarget> {
  switch (kind) {
    case "llama-server": {
      const server = await startLlamaServer({
        binary: setup.llamaServer,
        modelPath: setup.modelPath,
        threads: setup.threads,
        parallel: setup.slots,
        contextSize: setup.contextSize,
        ...(setup.cacheOff ? { args: ["--cache-ram", "0"] } : {}),
      });
      return {
        url: server.url,
        ...(setup.cacheOff ? { extra: { cache_prompt: false } } : {}),
        pids: server.pid === undefined ? [] : [server.pid],
        inference: [],
        stop: () => server.stop(),
      };
    }
    case "ours": {
      const started = await startOurs(setup, setup.slots);
      return {
        url: started.url,
        model: await modelName(started.url),
        pids: [started.service.child.pid!],
        inference: [started],
        stop: async () => void (await started.service.stop()),
      };
    }
    case "gateway":
    case "gateway-replicas": {
      const replicas = kind === "gateway" ? 1 : setup.replicas;
      const slots = kind === "gateway" ? setup.slots : 1;
      const inference: StartedInference[] = [];
      const stopAll = async (gateway?: RunningService) => {
        await gateway?.stop();
        await Promise.all(inference.map((i) => i.service.stop()));
      };
      try {
        // One after the other: the first start downloads the model into the shared cache, the others find it there.
        for (let i = 0; i < replicas; i++) inference.push(await startOurs(setup, slots));
        const key = `sk-${randomBytes(24).toString("base64url")}`;
        const gateway = await startService<Record<string, unknown>>({
          command: ["node", "--import", "tsx", "src/runtime/node.ts"],
          cwd: gatewayDir,
          env: {
            GATEWAY_PORT: "0",
            INFERENCE_URL: inference.map((i) => i.url).join(","),
            GATEWAY_API_KEYS: key,
            GATEWAY_REQUESTS_PER_MINUTE: "1000000000",
            GATEWAY_IP_REQUESTS_PER_MINUTE: "1000000000",
            GATEWAY_TOKENS_PER_MINUTE: "0",
            GATEWAY_CONCURRENT_STREAMS: "1000",
            GATEWAY_KEY_MAX_INFLIGHT: "1000",
            GATEWAY_HEALTH_INTERVAL_MS: "1000",
            LOG_LEVEL: "info",
          },
          readyWhen: (line) => {
            const json = jsonLine(line);
            return json?.msg === "listening" ? json : undefined;
          },
          timeoutMs: 60_000,
        });
        const url = `http://127.0.0.1:${String(gateway.ready["port"])}`;
        return {
          url,
          model: await modelName(inference[0]!.url),
          headers: { authorization: `Bearer ${key}` },
          pids: [gateway.child.pid!, ...inference.map((i) => i.service.child.pid!)],
          inference,
          stop: () => stopAll(gateway),
        };
      } catch (error) {
        await stopAll();
        throw error;
      }
    }
  }
}

function startOurs(setup: ServerSetup, slots: number): Promise<StartedInference> {
  const cacheBytes = setup.cacheOff ? "0" : process.env["PROMPT_CACHE_BYTES"];
  return startInference({
    ...setup.model.env,
    LLAMA_THREADS: String(setup.threads),
    PARALLEL: String(slots),
    CONTEXT_SIZE: String(setup.contextSize),
    MAX_QUEUE: "64",
    ...(cacheBytes === undefined ? {} : { PROMPT_CACHE_BYTES: cacheBytes }),
  });
}

async function modelName(url: string): Promise<string> {
  const response = await fetch(`${url}/v1/models`);
  const body = (await response.json()) as { data?: Array<{ id: string }> };
  const id = body.data?.[0]?.id;
  if (!id) throw new Error(`no model listed at ${url}/v1/models`);
  return id;
}
