import { createServer } from "node:http";

/**
 * The stub inference service the gateway benchmark forwards to: node:http, keep-alive, a fixed small chat
 * completion (with usage) for POST /v1/chat/completions after reading the body, a one-model list, and /ready.
 * Run as its own process: `node bench/gateway/stub-upstream.ts <port>`; prints `listening <port>` when ready.
 */

const COMPLETION = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "bench-model",
  system_fingerprint: null,
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: "Hello there!", refusal: null },
      finish_reason: "stop",
      logprobs: null,
    },
  ],
  usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
});
const MODELS = JSON.stringify({
  object: "list",
  data: [{ id: "bench-model", object: "model", created: 1, owned_by: "bench" }],
});

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    if (req.method === "POST" && req.url === "/v1/chat/completions") {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(COMPLETION) });
      res.end(COMPLETION);
    } else if (req.url === "/v1/models") {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(MODELS) });
      res.end(MODELS);
    } else if (req.url === "/ready") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"status":"ready"}');
    } else {
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"error":{"message":"not found","type":"not_found_error","param":null,"code":null}}');
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening ${typeof address === "object" && address ? address.port : ""}`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
