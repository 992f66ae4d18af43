import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for inference (node:http on loopback) for process-level gateway tests. Behaviour by model name:
 * "slow" streams 200 words 20 ms apart; "dying" streams two chunks then destroys the connection; anything else
 * answers at once. Streams end with a usage chunk when `stream_options.include_usage` is set, as inference does.
 * With `requireKey`, requests without `Authorization: Bearer <key>` get 401.
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

export interface StubInference {
  url: string;
  received: Received[];
  /** The streams served, in order. */
  streams: StreamRecord[];
  chats(): Received[];
  close(): Promise<void>;
}

export interface StubOptions {
  models?: string[];
  requireKey?: string;
  /** Marks replies (`x-stub` header and the completion's id), to tell replicas apart. */
  name?: string;
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

  const server: Server = createServer(async (req, res) => {
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
      if (body["stream"] !== true) {
        const maxTokens = Number(body["max_tokens"] ?? 16);
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
      const words = model === "slow" ? Array.from({ length: 200 }, (_, i) => `w${i} `) : ["Hel", "lo", " there"];
      res.write(chunk(model, { role: "assistant", content: "" }));
      for (const [i, word] of words.entries()) {
        if (stream.closedEarly) return;
        await sleep(model === "slow" ? 20 : 30);
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
    chats: () => received.filter((r) => r.path === "/v1/chat/completions"),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
