import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { startFakeHub } from "../fake-hub/start-fake-hub.ts";
import type { FakeHub } from "../fake-hub/types.ts";
import { generateTinyLlama, type TinyLlamaOptions } from "../gguf/tiny-llama.ts";
import { jsonLine, startService, type RunningService } from "../process/start-service.ts";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

export interface StartStackOptions {
  /** Hub repo id of the private model repo. */
  repo?: string;
  file?: string;
  model?: TinyLlamaOptions;
  /** Serve these GGUF bytes (a user's own model) instead of a generated tiny llama. */
  gguf?: Uint8Array;
  /** Extra environment for inference / the gateway. */
  inferenceEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  gatewayPort?: number;
  /** Sets GATEWAY_PLAYGROUND; unset, the gateway's default applies (on outside production). */
  playground?: boolean;
  /** Forwarded lines of both services, e.g. to print them in the demo. */
  onLine?: (service: "inference" | "gateway", line: string) => void;
}

export interface Stack {
  hub: FakeHub;
  hubToken: string;
  repo: string;
  commit: string;
  inference: RunningService<Record<string, unknown>>;
  inferenceUrl: string;
  gateway: RunningService<Record<string, unknown>>;
  gatewayUrl: string;
  /** The browser playground's page (served when the playground is enabled). */
  playgroundUrl: string;
  apiKey: string;
  inferenceKey: string;
  stop(): Promise<void>;
}

/**
 * The whole product, offline, as real processes over real HTTP: a fake Hub serving a generated tiny llama from a
 * private repo (token required), inference resolving it from there into a fresh cache, and the gateway in front with
 * a generated API key. Used by the end-to-end tests and `pnpm demo`.
 */
export async function startStack(options: StartStackOptions = {}): Promise<Stack> {
  const repo = options.repo ?? "demo-org/tiny-chat";
  const file = options.file ?? "tiny-chat.gguf";
  const hubToken = `hf_${randomBytes(16).toString("hex")}`;
  const apiKey = `sk-${randomBytes(24).toString("base64url")}`;
  /** The internal key inference demands and the gateway adds: it must never reach a client. */
  const inferenceKey = `ik-${randomBytes(24).toString("base64url")}`;
  const cacheDir = await mkdtemp(join(tmpdir(), "slm-stack-cache-"));

  const hub = await startFakeHub();
  const commit = hub.addRepo({
    id: repo,
    private: true,
    license: "apache-2.0",
    files: {
      [file]: options.gguf ?? generateTinyLlama({ seed: 1, name: "tiny-chat", ...options.model }),
      "README.md": `# ${repo}\n`,
    },
  });
  hub.tag(repo, "v1", commit);
  hub.addToken(hubToken, { canRead: [repo] });

  const started: RunningService[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
    await hub.close();
    await rm(cacheDir, { recursive: true, force: true });
  };
  try {
    const inference = await startService<Record<string, unknown>>({
      command: ["node", "--import", "tsx", "src/main.ts"],
      cwd: join(repoRoot, "apps/inference"),
      env: {
        INFERENCE_PORT: "0",
        HF_ENDPOINT: hub.url,
        HF_TOKEN: hubToken,
        MODEL_CACHE_DIR: cacheDir,
        MODEL_ID: repo,
        MODEL_VERSION: "v1",
        MODEL_FILE: file,
        // The stack resolves its own fresh repo: a models.lock.json in the checkout must not apply to it.
        MODEL_LOCKFILE: "none",
        INFERENCE_API_KEY: inferenceKey,
        CONTEXT_SIZE: "512",
        ...options.inferenceEnv,
      },
      readyWhen: (line) => {
        options.onLine?.("inference", line);
        const json = jsonLine(line);
        return json?.msg === "ready" ? json : undefined;
      },
    });
    started.push(inference);
    const listening = inference.lines.map(jsonLine).find((j) => j?.msg === "inference listening");
    const inferenceUrl = `http://127.0.0.1:${String(listening?.port)}`;

    const gateway = await startService<Record<string, unknown>>({
      command: ["node", "--import", "tsx", "src/runtime/node.ts"],
      cwd: join(repoRoot, "apps/gateway"),
      env: {
        GATEWAY_PORT: String(options.gatewayPort ?? 0),
        INFERENCE_URL: inferenceUrl,
        GATEWAY_API_KEYS: apiKey,
        INFERENCE_API_KEY: inferenceKey,
        ...(options.playground === undefined ? {} : { GATEWAY_PLAYGROUND: String(options.playground) }),
        ...options.gatewayEnv,
      },
      readyWhen: (line) => {
        options.onLine?.("gateway", line);
        const json = jsonLine(line);
        return json?.msg === "listening" ? json : undefined;
      },
    });
    started.push(gateway);
    return {
      hub,
      hubToken,
      repo,
      commit,
      inference,
      inferenceUrl,
      gateway,
      gatewayUrl: `http://127.0.0.1:${String(gateway.ready.port)}`,
      playgroundUrl: `http://127.0.0.1:${String(gateway.ready.port)}/playground/`,
      apiKey,
      inferenceKey,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
