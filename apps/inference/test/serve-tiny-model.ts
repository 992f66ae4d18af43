import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTinyLlama, startFakeHub, type FakeHub, type TinyLlamaOptions } from "@slm/testkit";
import { startInference, type StartedInference } from "./start-inference.ts";

export interface ServedModel extends StartedInference {
  hub: FakeHub;
  /** The same GGUF on disk, for in-process comparisons. */
  modelPath: string;
  stop(): Promise<void>;
}

export interface ServeOptions {
  model?: TinyLlamaOptions;
  /** Serve these GGUF bytes instead of a generated tiny llama. */
  gguf?: Uint8Array;
  env?: Record<string, string>;
  /** Starts inference against this Hub origin instead of the fake Hub's own (e.g. a proxy in front of it). */
  hubUrl?: (hub: FakeHub) => string;
  /** How long to wait for "ready". */
  timeoutMs?: number;
}

/** A generated tiny llama on a fake Hub, served by a real inference process on loopback. */
export async function serveTinyModel(options: ServeOptions = {}): Promise<ServedModel> {
  const bytes = options.gguf ?? generateTinyLlama({ seed: 11, ...options.model });
  const dir = await mkdtemp(join(tmpdir(), "inference-api-"));
  const modelPath = join(dir, "tiny.gguf");
  await writeFile(modelPath, bytes);
  const hub = await startFakeHub();
  hub.addRepo({ id: "acme/tiny", files: { "tiny.gguf": bytes } });
  const stopAll = async (inference?: StartedInference) => {
    await inference?.service.stop();
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const inference = await startInference(
      {
        HF_ENDPOINT: options.hubUrl?.(hub) ?? hub.url,
        MODEL_CACHE_DIR: join(dir, "cache"),
        MODEL_ID: "acme/tiny",
        MODEL_FILE: "tiny.gguf",
        CONTEXT_SIZE: "512",
        ...options.env,
      },
      options.timeoutMs,
    );
    return { ...inference, hub, modelPath, stop: () => stopAll(inference) };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Reads an SSE body into its events: `data` payloads (parsed JSON or "[DONE]") and the event name if any. */
export async function readSse(response: Response): Promise<Array<{ event?: string; data: unknown }>> {
  const text = await response.text();
  return text
    .split("\n\n")
    .filter((block) => block.trim().length > 0)
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))?.slice(7);
      const data = lines.find((l) => l.startsWith("data: "))?.slice(6) ?? "";
      return { ...(event ? { event } : {}), data: data === "[DONE]" ? data : (JSON.parse(data) as unknown) };
    });
}

/** The value of a metric line in Prometheus text format (first match), or undefined. */
export function metricValue(text: string, name: string, labels = ""): number | undefined {
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `) || (labels === "" && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}
