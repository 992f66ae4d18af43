import type { IncomingMessage } from "node:http";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createNodeUpstream } from "../src/runtime/node-upstream.ts";

/**
 * The floor the gateway is measured against with `--floor`: Hono on @hono/node-server forwarding the body to the stub
 * with the gateway's own transport, and nothing else (no auth, quotas, validation, headers, logs or metrics).
 * `node --import tsx apps/gateway/bench/bare-proxy.ts <upstream-url>` (started by bench/gateway/run.ts); prints `listening <port>`.
 */

const target = `${process.argv[2]}/v1/chat/completions`;
const { fetch } = createNodeUpstream();
const app = new Hono<{ Bindings: { incoming: IncomingMessage } }>();
app.post("/v1/chat/completions", async (c) => {
  const chunks: Buffer[] = [];
  for await (const chunk of c.env.incoming) chunks.push(chunk as Buffer);
  const upstream = await fetch(target, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: Buffer.concat(chunks).toString(),
    signal: new AbortController().signal,
    redirect: "manual",
  });
  return new Response(await upstream.text(), {
    status: upstream.status,
    headers: { "content-type": "application/json" },
  });
});
serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => console.log(`listening ${info.port}`));
for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
