import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createGatewayApp } from "./src/app.ts";
import { createLogger, silentLogger } from "./src/logger.ts";
import { createPrometheusMetrics } from "./src/metrics/prometheus.ts";
import { createNodeUpstream } from "./src/node-upstream.ts";
import type { RuntimeAdapter } from "./src/runtime.ts";
import { bodyTooLarge, declaredTooLarge } from "./src/body.ts";

const real = createNodeUpstream();
const COMPLETION = JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion", created: 1700000000, model: "bench-model", system_fingerprint: null, choices: [{ index: 0, message: { role: "assistant", content: "Hello there!", refusal: null }, finish_reason: "stop", logprobs: null }], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } });
const MODELS = JSON.stringify({ object: "list", data: [{ id: "bench-model", object: "model", created: 1, owned_by: "bench" }] });
const H: Record<string, string> = { "content-type": "application/json" };
const canned = async (url: string) => ({ status: 200, headers: { get: (n: string) => H[n] ?? null }, body: null, text: async () => (url.endsWith("/v1/models") ? MODELS : COMPLETION) });
const upstream = process.env.CANNED ? { fetch: canned as any } : real;
const node = (c: any) => c.env as { incoming: IncomingMessage; outgoing: ServerResponse };
const runtime: RuntimeAdapter = {
  readBody(c, maxBytes) {
    const incoming = node(c).incoming;
    if (declaredTooLarge(incoming.headers["content-length"], maxBytes)) return Promise.reject(bodyTooLarge(maxBytes));
    return new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
      incoming.once("error", reject);
    });
  },
  onClientClose(c, listener) {
    const outgoing = node(c).outgoing;
    const onClose = () => { if (!outgoing.writableFinished) listener(); };
    outgoing.once("close", onClose);
    return () => outgoing.off("close", onClose);
  },
  remoteAddress: (c) => node(c).incoming.socket.remoteAddress,
  sha256Hex: (text) => createHash("sha256").update(text).digest("hex"),
};
const base = { inferenceUrls: ["http://127.0.0.1:19001"], apiKeys: ["sk-bench-0123456789abcdefghij"], allowAnonymous: false, limits: { maxBodyBytes: 1 << 20, maxTokens: 4096, upstreamTimeoutMs: 300000 }, runtime, fetch: upstream.fetch };
const variants: Record<string, () => any> = {
  bare: () => { const a = new Hono(); a.post("/v1/chat/completions", async (c) => { const body = Buffer.from(await runtime.readBody!(c as any, 1e6)).toString(); const r = await upstream.fetch("http://127.0.0.1:19001/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body, signal: new AbortController().signal, redirect: "manual" }); return new Response(await r.text(), { status: r.status, headers: { "content-type": "application/json" } }); }); return a; },
  plain: () => createGatewayApp({ ...base, logger: silentLogger }),
  limits: () => createGatewayApp({ ...base, logger: silentLogger, defaultPolicy: { requestsPerMinute: 1e9, tokensPerMinute: 1e12 } }),
  full: () => createGatewayApp({ ...base, logger: createLogger({ level: "info" }), metrics: createPrometheusMetrics().metrics, defaultPolicy: { requestsPerMinute: 1e9, tokensPerMinute: 1e12 } }),
};
const name = process.argv[2]!;
const port = Number(process.argv[3]);
serve({ fetch: variants[name]!().fetch, port, hostname: "127.0.0.1" }, () => console.error(`ready ${name} ${port}`));
process.on("SIGINT", () => process.exit(0));
