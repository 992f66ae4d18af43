import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import type { UpstreamInit } from "../types.ts";
import { createNodeUpstream, UpstreamProtocolError, UpstreamSaturatedError } from "./node-upstream.ts";

/** The Node transport against a real node:http server on loopback. */

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(
  handler: (req: import("node:http").IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<{ url: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const part of req) body += part;
    handler(req, res, body);
  });
  server.on("connection", (s) => sockets.add(s));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

const init = (overrides: Partial<UpstreamInit> = {}): UpstreamInit => ({
  method: "POST",
  headers: { "content-type": "application/json", "x-request-id": "r1" },
  body: '{"a":"é"}',
  signal: new AbortController().signal,
  redirect: "manual",
  ...overrides,
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("node upstream transport", () => {
  it("sends method, path, headers and body; reads a Content-Length answer; reuses the connection", async () => {
    const seen: string[] = [];
    const { url, sockets } = await serve((req, res, body) => {
      seen.push(`${req.method} ${req.url} ${req.headers["x-request-id"]} ${req.headers["content-length"]} ${body}`);
      res.setHeader("set-cookie", ["a=1", "b=2"]);
      res.writeHead(201, { "content-type": "application/json", "Retry-After": "3" }).end('{"ok":"ü"}');
    });
    const { fetch, close } = createNodeUpstream();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/v1/x?q=1`, init());
      expect(res.status).toBe(201);
      expect(res.headers.get("Retry-After")).toBe("3");
      expect(res.headers.get("set-cookie")).toBe("a=1, b=2");
      expect(await res.text()).toBe('{"ok":"ü"}');
    }
    expect(seen).toEqual(Array(3).fill('POST /v1/x?q=1 r1 10 {"a":"é"}'));
    expect(sockets.size).toBe(1);
    close();
  });

  it("streams a chunked body as it comes, and ends it", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { url } = await serve(async (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n");
      await held;
      res.write("data: 2\n\n");
      res.end("data: [DONE]\n\n");
    });
    const { fetch } = createNodeUpstream();
    const res = await fetch(`${url}/s`, init({ method: "GET", body: undefined }));
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toBe("data: 1\n\n");
    release();
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decoder.decode(r.value);
    expect(rest).toBe("data: 2\n\ndata: [DONE]\n\n");
  });

  it("reads bodies framed by connection close, and 204s without a body", async () => {
    const { url } = await serve((req, res) => {
      if (req.url === "/empty") return res.writeHead(204).end();
      res.socket!.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nuntil the end");
      res.socket!.end();
    });
    const { fetch } = createNodeUpstream();
    expect(await (await fetch(`${url}/close`, init())).text()).toBe("until the end");
    const empty = await fetch(`${url}/empty`, init());
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe("");
  });

  it("skips an interim 100 Continue", async () => {
    const { url } = await serve((_req, res) => {
      res.writeContinue();
      res.writeHead(200, { "content-type": "text/plain" }).end("final");
    });
    const res = await createNodeUpstream().fetch(`${url}/`, init());
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("final");
  });

  it("aborts: the server sees the connection close, the reader an error", async () => {
    let closed = false;
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n");
      res.on("close", () => (closed = true));
    });
    const controller = new AbortController();
    const res = await createNodeUpstream().fetch(`${url}/`, init({ signal: controller.signal }));
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await expect(reader.read()).rejects.toBeDefined();
    for (let i = 0; i < 50 && !closed; i++) await sleep(10);
    expect(closed).toBe(true);
  });

  it("fails with ECONNREFUSED where nothing listens", async () => {
    const { url } = await serve(() => {});
    servers[0]!.close();
    await sleep(10);
    await expect(createNodeUpstream().fetch(`${url}/`, init())).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("sends again on a new connection when a kept-alive one was closed by the server", async () => {
    const { url, sockets } = await serve((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("ok"));
    const { fetch } = createNodeUpstream();
    expect(await (await fetch(`${url}/`, init())).text()).toBe("ok");
    for (const socket of sockets) socket.destroy(); // the server drops the idle connection
    await sleep(20);
    expect(await (await fetch(`${url}/`, init())).text()).toBe("ok");
  });

  it("refuses what it does not understand instead of guessing", async () => {
    const { url } = await serve((req, res) => {
      const raw = req.url === "/te" ? "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n" : "NOT-HTTP\r\n\r\n";
      res.socket!.end(raw);
    });
    const { fetch } = createNodeUpstream();
    await expect(fetch(`${url}/te`, init())).rejects.toBeInstanceOf(UpstreamProtocolError);
    await expect(fetch(`${url}/bad`, init())).rejects.toMatchObject({ code: "upstream_protocol_error" });
  });

  it("queues requests beyond its connection cap", async () => {
    let inFlight = 0;
    let most = 0;
    const { url, sockets } = await serve(async (_req, res) => {
      most = Math.max(most, ++inFlight);
      await sleep(20);
      inFlight--;
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
    const { fetch } = createNodeUpstream({ maxConnections: 2 });
    const texts = await Promise.all(Array.from({ length: 6 }, () => fetch(`${url}/`, init()).then((r) => r.text())));
    expect(texts).toEqual(Array(6).fill("ok"));
    expect(most).toBe(2);
    expect(sockets.size).toBe(2);
  });

  it("gives up on a blackholed replica after the connect deadline instead of the kernel's two minutes", async () => {
    // A listener that never accepts: once its accept queue is full, the kernel drops further SYNs, as a firewall
    // that silently drops packets would.
    const listener = spawn("python3", [
      "-c",
      "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)",
    ]);
    try {
      const port = await new Promise<number>((resolve) =>
        listener.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))),
      );
      const fillers = Array.from({ length: 4 }, () => connect({ host: "127.0.0.1", port }).on("error", () => {}));
      await sleep(100);
      const started = Date.now();
      const error = await createNodeUpstream({ connectTimeoutMs: 300 })
        .fetch(`http://127.0.0.1:${port}/ready`, init({ method: "GET", body: undefined }))
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "ETIMEDOUT" });
      expect(Date.now() - started).toBeLessThan(2_000);
      for (const filler of fillers) filler.destroy();
    } finally {
      listener.kill();
    }
  });

  it("a request waiting for a connection leaves at once when its signal aborts", async () => {
    const { url } = await serve(async (_req, res) => {
      await sleep(300);
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
    const { fetch } = createNodeUpstream({ maxConnections: 1 });
    const first = fetch(`${url}/`, init());
    const client = new AbortController();
    const waiting = fetch(`${url}/`, init({ signal: client.signal })).catch((e: unknown) => e);
    await sleep(20);
    const started = Date.now();
    client.abort(new Error("client closed the request"));
    expect(await waiting).toMatchObject({ message: "client closed the request" });
    expect(Date.now() - started).toBeLessThan(100);
    expect(await (await first).text()).toBe("ok");
    // The connection the aborted waiter no longer wants serves the next request.
    expect(await (await fetch(`${url}/`, init())).text()).toBe("ok");
  });

  it("sheds a request beyond the wait queue instead of parking it", async () => {
    const { url } = await serve(async (_req, res) => {
      await sleep(100);
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
    const { fetch } = createNodeUpstream({ maxConnections: 1, maxWaiting: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 3 }, () => fetch(`${url}/`, init()).then((r) => r.text())),
    );
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(UpstreamSaturatedError);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: "upstream_saturated" });
  });
});
