import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for inference (node:http on loopback) for process-level gateway tests. Behaviour by model name:
 * "slow" streams 200 words 20 ms apart; "dying" streams two chunks then destroys the connection; "endless" generates
 * (a word every 20 ms, streamed or answered as JSON at the end) for 2,000 words - far longer than any test - so a
 * generation still running after its client left shows as busy; anything else answers at once. Streams end with a
 * usage chunk when `stream_options.include_usage` is set, as inference does. With `requireKey`, requests without
 * `Authorization: Bearer <key>` get 401. `busy()` counts the POSTs being served now (a connection still open).
 */

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

export interface StreamRecord {
  finishedAt: number | null;
  closedEarly: boolean;
}

/** One generation (POST), streamed or not: what the gateway sent and how it ended. */
export interface GenerationRecord extends StreamRecord {
  requestId: string | undefined;
  model: string;
  stream: boolean;
  /** The length of the body as received (the gateway's shaped body: what its token estimate is computed from). */
  bodyLength: number;
  /** The request's token cap times `n`, as received. */
  cap: number;
  /** total_tokens of the usage answered (set once answered in full). */
  totalTokens: number | null;
}

export interface StubInference {
  url: string;
  received: Received[];
  /** The streams served, in order. */
  streams: StreamRecord[];
  /** Every chat completion served, streamed or not, in order of arrival. */
  generations: GenerationRecord[];
  /** POSTs being served now (their connection still open). */
  busy(): number;
  chats(): Received[];
  close(): Promise<void>;
}

export interface StubOptions {
  models?: string[];
  requireKey?: string;
  /** Marks replies (`x-stub` header and the completion's id), to tell replicas apart. */
  name?: string;
  /** Delay before answering GET /v1/models (a slow catalog refresh). */
  modelsDelayMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ENVELOPE = (message: string, type: string) =>
  JSON.stringify({ error: { message, type, param: null, code: null } });

function chunk(model: string, delta: Record<string, unknown>, finish: string | null = null) {
  const payload = {
    id: "chatcmpl-stub",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  };
  return `data: ${JSON.stringify(payload)}\n\n`;
}

function usageChunk(model: string, completion: number) {
  const payload = {
    id: "chatcmpl-stub",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model,
    system_fingerprint: null,
    choices: [],
    usage: { prompt_tokens: 3, completion_tokens: completion, total_tokens: 3 + completion },
  };
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export async function startStubInference(options: StubOptions = {}): Promise<StubInference> {
  const models = options.models ?? ["stub-model", "slow", "dying"];
  const received: Received[] = [];
  const streams: StreamRecord[] = [];
  const generations: GenerationRecord[] = [];
  let busy = 0;

  const server: Server = createServer(async (req, res) => {
    if (req.method === "POST") {
      busy++;
      res.once("close", () => busy--);
    }
    let raw = "";
    for await (const part of req) raw += part;
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    received.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
    res.setHeader("server", "stub-inference/0.0 (internal)");
    res.setHeader("x-internal-node", "10.9.8.7");
    if (options.name) res.setHeader("x-stub", options.name);

    if (req.method === "GET" && req.url === "/ready") return res.writeHead(200).end('{"status":"ready"}');
    if (options.requireKey && req.headers.authorization !== `Bearer ${options.requireKey}`) {
      res.writeHead(401, { "content-type": "application/json" });
      return res.end(
        ENVELOPE(
          `missing internal key (got ${req.headers.authorization ?? "none"} at http://10.9.8.7:8081)`,
          "authentication_error",
        ),
      );
    }
    if (req.method === "GET" && req.url === "/v1/models") {
      if (options.modelsDelayMs) await sleep(options.modelsDelayMs);
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(
        JSON.stringify({
          object: "list",
          data: models.map((id) => ({ id, object: "model", created: 1, owned_by: "stub" })),
        }),
      );
    }
    if (req.method === "POST" && req.url === "/v1/chat/completions" && body) {
      const model = String(body["model"]);
      const generation: GenerationRecord = {
        requestId: req.headers["x-request-id"] as string | undefined,
        model,
        stream: body["stream"] === true,
        bodyLength: raw.length,
        cap: Number(body["max_completion_tokens"] ?? body["max_tokens"] ?? 0) * Number(body["n"] ?? 1),
        totalTokens: null,
        finishedAt: null,
        closedEarly: false,
      };
      generations.push(generation);
      res.on("close", () => {
        if (generation.finishedAt === null) generation.closedEarly = true;
      });
      const ENDLESS = 2000;
      if (body["stream"] !== true) {
        const maxTokens = Number(body["max_tokens"] ?? 16);
        if (model === "endless") {
          for (let i = 0; i < ENDLESS && !generation.closedEarly; i++) await sleep(20);
          if (generation.closedEarly) return;
        }
        generation.finishedAt = Date.now();
        generation.totalTokens = 3 + Math.min(2, maxTokens);
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(
          JSON.stringify({
            id: `chatcmpl-${options.name ?? "stub"}`,
            object: "chat.completion",
            created: 1_700_000_000,
            model,
            system_fingerprint: null,
            choices: [
              {
                index: 0,
                message: { role: "assistant", content: "Hello there", refusal: null },
                finish_reason: "stop",
                logprobs: null,
              },
            ],
            usage: {
              prompt_tokens: 3,
              completion_tokens: Math.min(2, maxTokens),
              total_tokens: 3 + Math.min(2, maxTokens),
            },
          }),
        );
      }
      const stream: StreamRecord = { finishedAt: null, closedEarly: false };
      streams.push(stream);
      res.on("close", () => {
        if (stream.finishedAt === null) stream.closedEarly = true;
      });
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
      const length = model === "slow" ? 200 : model === "endless" ? ENDLESS : 0;
      const words = length > 0 ? Array.from({ length }, (_, i) => `w${i} `) : ["Hel", "lo", " there"];
      res.write(chunk(model, { role: "assistant", content: "" }));
      for (const [i, word] of words.entries()) {
        if (stream.closedEarly) return;
        await sleep(length > 0 ? 20 : 30);
        if (model === "dying" && i === 2) {
          res.socket?.destroy();
          return;
        }
        res.write(chunk(model, { content: word }));
      }
      res.write(chunk(model, {}, "stop"));
      const streamOptions = body["stream_options"] as { include_usage?: boolean } | undefined;
      if (streamOptions?.include_usage) res.write(usageChunk(model, words.length));
      res.write("data: [DONE]\n\n");
      stream.finishedAt = Date.now();
      generation.finishedAt = stream.finishedAt;
      generation.totalTokens = 3 + words.length;
      return res.end();
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(ENVELOPE(`no route ${req.url} on http://10.9.8.7:8081`, "not_found_error"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    streams,
    generations,
    busy: () => busy,
    chats: () => received.filter((r) => r.path === "/v1/chat/completions"),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
