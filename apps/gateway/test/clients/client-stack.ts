import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP, Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  generateVocabModel,
  llamaSourcePath,
  readLlamaSourceText,
  readTokenizerMetadata,
  startStack,
  type Stack,
} from "@slm/testkit";

/**
 * What the client tests share: the models they run on, one stack per model (fake Hub + inference + gateway as real
 * processes), and a guard that fails the file when anything tries to leave loopback.
 */

/** The demo model (the testkit's tiny llama, no chat template) and a random-weight model with Qwen2.5's vocabulary and template. */
export const CLIENT_MODELS = ["demo", "qwen2.5"] as const;
export type ClientModel = (typeof CLIENT_MODELS)[number];

export interface ClientStack {
  stack: Stack;
  /** The gateway's `/v1`, as OpenAI-style clients take it. */
  baseURL: string;
  /** The gateway's origin, as the Hugging Face client takes it. */
  origin: string;
  apiKey: string;
  /** The served model's public id. */
  model: string;
  kind: ClientModel;
  stop(): Promise<void>;
}

const cacheDir = fileURLToPath(new URL("../../../../node_modules/.cache/client-models/", import.meta.url));

/** Bump when the generated model below changes. */
const GENERATION = 1;

/** Qwen2.5's real vocabulary and chat template (Hermes-style tool calls) in a small random-weight qwen2 model, cached. */
async function qwenGguf(): Promise<Uint8Array> {
  const options = { GENERATION, seed: 11, nEmbd: 64, nLayer: 2, tiedEmbeddings: true } as const;
  const key = createHash("sha256").update(JSON.stringify(options)).digest("hex").slice(0, 16);
  const path = join(cacheDir, `qwen2.5-${key}.gguf`);
  if (existsSync(path)) return readFile(path);
  const tokenizer = await readTokenizerMetadata(await llamaSourcePath("models/ggml-vocab-qwen2.gguf"));
  const bytes = generateVocabModel({
    tokenizer,
    architecture: "qwen2",
    chatTemplate: await readLlamaSourceText("models/templates/Qwen-Qwen2.5-7B-Instruct.jinja"),
    name: "qwen2.5-clients",
    seed: options.seed,
    nEmbd: options.nEmbd,
    nLayer: options.nLayer,
    tiedEmbeddings: options.tiedEmbeddings,
  });
  await mkdir(cacheDir, { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  return bytes;
}

/**
 * Token cap for answers bound by a grammar (structured output, forced tool calls). JSON grammars let whitespace in
 * between tokens, and random weights take that freely (a two-field object has been seen to take 60 tokens), so
 * these requests get room to close the object; a real model writes it in a few tokens.
 */
export const GRAMMAR_MAX_TOKENS = 200;

export interface ClientStackOptions {
  /** Serve /v1/embeddings too (EMBEDDINGS=on). */
  embeddings?: boolean;
}

export async function startClientStack(kind: ClientModel, options: ClientStackOptions = {}): Promise<ClientStack> {
  const stack = await startStack({
    ...(kind === "qwen2.5"
      ? { repo: "demo-org/qwen2.5-clients", file: "qwen2.5-clients.gguf", gguf: await qwenGguf() }
      : {}),
    inferenceEnv: {
      CONTEXT_SIZE: "2048",
      PARALLEL: "2",
      LLAMA_THREADS: "1",
      ...(options.embeddings ? { EMBEDDINGS: "on" } : {}),
    },
    playground: false,
  });
  const listed = await fetch(`${stack.gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
  const { data } = (await listed.json()) as { data: Array<{ id: string }> };
  return {
    stack,
    baseURL: `${stack.gatewayUrl}/v1`,
    origin: stack.gatewayUrl,
    apiKey: stack.apiKey,
    model: data[0]!.id,
    kind,
    stop: () => stack.stop(),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// No test reaches the internet.

/** Every attempt to reach beyond loopback from this test process (URL or address). */
export const outbound: string[] = [];

/** The host a `socket.connect(...)` call dials (undefined for a local path: a pipe or Unix socket). */
function connectHost(args: unknown[]): string | undefined {
  let [first, second] = args;
  if (Array.isArray(first)) [first, second] = first as unknown[]; // net's internal normalized form
  if (typeof first === "object" && first !== null) {
    const options = first as { path?: string | null; host?: string | null };
    return typeof options.path === "string" ? undefined : (options.host ?? "localhost");
  }
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first)))
    return typeof second === "string" ? second : "localhost";
  return undefined;
}

function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || bare.startsWith("::ffff:127.");
  return false;
}

const realFetch = globalThis.fetch;
let guarded = false;

/**
 * Installs the guard (once per process; call it before any client is built, as some clients keep the `fetch` they find):
 * `fetch` to a non-loopback host is recorded and fails at once without leaving the machine (a network error with
 * `status: 403`, so that clients which retry network errors with backoff, such as LangChain's token counter, give up at
 * once: offline it retries for ~85 s), and any TCP connection to a non-loopback host, by whatever module, is recorded
 * and refused before it is dialled. Each file checks `outbound` is empty in its afterAll.
 */
export function guardNetwork(): void {
  if (guarded) return;
  guarded = true;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!isLoopbackHost(url.hostname)) {
      outbound.push(url.href);
      throw Object.assign(new TypeError(`fetch failed: ${url.origin} blocked by the test (no internet)`), {
        status: 403,
      });
    }
    return realFetch(input, init);
  }) as typeof fetch;
  // Below fetch: any TCP connection (node:http, undici, a socket) to a host that is not loopback, refused before it
  // is looked up or dialled.
  const connect = Socket.prototype.connect as (this: Socket, ...args: unknown[]) => Socket;
  Socket.prototype.connect = function guardedConnect(this: Socket, ...args: unknown[]) {
    const host = connectHost(args);
    if (host !== undefined && !isLoopbackHost(host)) {
      outbound.push(`tcp ${host}`);
      process.nextTick(() => this.destroy(new Error("blocked by the test: no internet")));
      return this;
    }
    return connect.apply(this, args);
  } as typeof Socket.prototype.connect;
}

// ---------------------------------------------------------------------------------------------------------------------
// What went over the wire.

export interface Exchange {
  method: string;
  url: string;
  /** The request body, parsed when JSON. */
  body: any;
  status: number;
}

/** A `fetch` for a client's options that records each request (method, URL, JSON body) and its status, through the guard. */
export function recordingFetch(): { fetch: typeof fetch; exchanges: Exchange[] } {
  const exchanges: Exchange[] = [];
  const recording = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const text = request.body ? await request.clone().text() : "";
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {}
    const response = await globalThis.fetch(request);
    exchanges.push({ method: request.method, url: request.url, body, status: response.status });
    return response;
  }) as typeof fetch;
  return { fetch: recording, exchanges };
}
