import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The gateway as a process: `tsx src/node.ts` in front of a stub inference server (node:http), driven with the
 * official `openai` client.
 */

const NODE_TS = fileURLToPath(new URL("../src/node.ts", import.meta.url));
// `node --import tsx src/node.ts` is what the tsx CLI runs, minus the CLI's wrapper process: one pid per gateway,
// so killing it in afterAll cannot leave an orphaned grandchild behind.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const KEY = "sk-e2e-0123456789abcdefghij";

// ---------------------------------------------------------------------------------------------------------------
// Stub inference

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

const received: Received[] = [];
let lastStream: { finishedAt: number | null; closedEarly: boolean } = { finishedAt: null, closedEarly: false };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function chunk(delta: Record<string, unknown>, finish: string | null = null, usage?: Record<string, number>) {
  const payload = {
    id: "chatcmpl-stub",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "stub-model",
    system_fingerprint: null,
    choices: usage ? [] : [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...(usage ? { usage } : {}),
  };
  return `data: ${JSON.stringify(payload)}\n\n`;
}

async function readBody(req: import("node:http").IncomingMessage): Promise<string> {
  let text = "";
  for await (const part of req) text += part;
  return text;
}

function startStub(): Promise<Server> {
  const server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    received.push({ path: req.url ?? "", headers: req.headers, body });
    res.setHeader("server", "stub-inference/0.0 (internal)");
    res.setHeader("x-internal-node", "10.9.8.7");

    if (req.method === "GET" && req.url === "/ready") return res.writeHead(200).end('{"status":"ready"}');
    if (req.method === "GET" && req.url === "/v1/models") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ object: "list", data: [{ id: "stub-model", object: "model", created: 1, owned_by: "stub" }] }));
    }
    if (req.method === "POST" && req.url === "/v1/chat/completions" && body?.["stream"] === true) {
      const stream = { finishedAt: null as number | null, closedEarly: false };
      lastStream = stream;
      res.on("close", () => {
        if (stream.finishedAt === null) stream.closedEarly = true;
      });
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
      const words = body["model"] === "slow" ? Array.from({ length: 200 }, (_, i) => `w${i} `) : ["Hel", "lo", " there"];
      res.write(chunk({ role: "assistant", content: "" }));
      for (const word of words) {
        if (stream.closedEarly) return;
        await sleep(body["model"] === "slow" ? 20 : 60);
        res.write(chunk({ content: word }));
      }
      res.write(chunk({}, "stop"));
      res.write(chunk({}, null, { prompt_tokens: 3, completion_tokens: words.length, total_tokens: 3 + words.length }));
      res.write("data: [DONE]\n\n");
      stream.finishedAt = Date.now();
      return res.end();
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: `no route ${req.url} on http://10.9.8.7:8081`, type: "not_found_error", param: null, code: null } }));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// ---------------------------------------------------------------------------------------------------------------
// Gateway process

interface Gateway {
  child: ChildProcess;
  url: string;
  stdout: string[];
  stderr: string[];
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

function spawnGateway(env: Record<string, string>): ChildProcess {
  const cwd = mkdtempSync(join(tmpdir(), "gateway-e2e-")); // no stray .env
  dirs.push(cwd);
  const child = spawn(process.execPath, ["--import", TSX_LOADER, NODE_TS], {
    cwd,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? cwd, GATEWAY_HOST: "127.0.0.1", GATEWAY_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return child;
}

function lines(stream: NodeJS.ReadableStream, into: string[]): void {
  let buffer = "";
  stream.setEncoding("utf8");
  stream.on("data", (data: string) => {
    buffer += data;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      into.push(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  });
}

async function startGateway(env: Record<string, string>): Promise<Gateway> {
  const child = spawnGateway(env);
  const stdout: string[] = [];
  const stderr: string[] = [];
  lines(child.stdout!, stdout);
  lines(child.stderr!, stderr);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    for (const line of stdout) {
      try {
        const entry = JSON.parse(line) as { msg?: string; address?: string; port?: number };
        if (entry.msg === "listening" && entry.port) return { child, url: `http://127.0.0.1:${entry.port}`, stdout, stderr };
      } catch {
        // not a JSON line
      }
    }
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${stderr.join("\n")}`);
    await sleep(25);
  }
  throw new Error(`gateway did not start: ${stderr.join("\n")}`);
}

let stub: Server;
let inferenceUrl: string;

beforeAll(async () => {
  stub = await startStub();
  inferenceUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
});

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

afterAll(async () => {
  await Promise.all(children.map(stop));
  stub?.closeAllConnections();
  await new Promise((resolve) => stub?.close(resolve));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("gateway process with configured keys", () => {
  let gw: Gateway;
  let client: OpenAI;

  beforeAll(async () => {
    gw = await startGateway({ INFERENCE_URL: inferenceUrl, GATEWAY_API_KEYS: `${KEY}, sk-second-key-0123456789`, GATEWAY_MAX_TOKENS: "64" });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
  }, 30_000);

  it("prints one JSON startup line with the bound address, and no key", () => {
    const startup = gw.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l["msg"] === "listening");
    expect(startup).toMatchObject({ address: gw.url, auth: "api_key", keys: 2, generatedKey: false });
    expect([...gw.stdout, ...gw.stderr].join("\n")).not.toContain(KEY);
  });

  it("streams a chat completion through the openai client, chunk by chunk, with usage at the end", async () => {
    const stream = await client.chat.completions.create({
      model: "stub-model",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 10_000,
    });
    let text = "";
    let contentChunks = 0;
    let firstContentAt: number | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const part of stream) {
      const delta = part.choices[0]?.delta.content;
      if (delta) {
        firstContentAt ??= Date.now();
        contentChunks += 1;
        text += delta;
      }
      if (part.usage) usage = part.usage;
    }
    expect(text).toBe("Hello there");
    expect(contentChunks).toBe(3);
    expect(usage).toEqual({ prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
    // Relayed as it was produced, not buffered until the end.
    expect(firstContentAt).not.toBeNull();
    expect(firstContentAt!).toBeLessThan(lastStream.finishedAt!);

    const upstream = received.filter((r) => r.path === "/v1/chat/completions").at(-1)!;
    expect(upstream.body?.["max_tokens"]).toBe(64);
    expect(upstream.headers["x-request-id"]).toMatch(/^[\w.-]{1,128}$/);
    expect(upstream.headers["authorization"]).toBeUndefined();
  });

  it("lists models", async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual(["stub-model"]);
  });

  it("echoes the request id and hides the upstream's own headers", async () => {
    const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}`, "x-request-id": "e2e-req.1" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("e2e-req.1");
    expect(res.headers.get("server")).toBeNull();
    expect(res.headers.get("x-internal-node")).toBeNull();
    expect(received.at(-1)!.headers["x-request-id"]).toBe("e2e-req.1");
  });

  it("raises AuthenticationError (401) for a bad key", async () => {
    const bad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "sk-bad-key-0123456789", maxRetries: 0 });
    const error = await bad.models.list().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe("invalid_api_key");
  });

  it("stops the upstream stream when the client disconnects", async () => {
    const controller = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "slow", messages: [{ role: "user", content: "hi" }], stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    const stream = lastStream;
    controller.abort();
    const deadline = Date.now() + 3000;
    while (!stream.closedEarly && Date.now() < deadline) await sleep(20);
    expect(stream.closedEarly).toBe(true);
    expect(stream.finishedAt).toBeNull();
  });

  it("answers /health and /ready", async () => {
    expect(await (await fetch(`${gw.url}/health`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${gw.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  it("shuts down gracefully on SIGTERM", async () => {
    const exited = once(gw.child, "exit");
    gw.child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(gw.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  }, 15_000);
});

describe("gateway process without configured keys", () => {
  it("generates a key, prints it once, accepts it and refuses requests without it", async () => {
    const gw = await startGateway({ INFERENCE_URL: inferenceUrl });
    const keyLines = gw.stderr.filter((l) => /sk-slm-/.test(l));
    expect(keyLines).toHaveLength(1);
    const key = /(sk-slm-[A-Za-z0-9_-]{43})/.exec(keyLines[0]!)![1]!;
    expect(gw.stdout.join("\n")).not.toContain(key);

    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
    expect((await client.models.list()).data).toHaveLength(1);

    const anonymous = await fetch(`${gw.url}/v1/models`);
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.code).toBe("invalid_api_key");
    const wrong = await fetch(`${gw.url}/v1/models`, { headers: { authorization: "Bearer sk-slm-guess" } });
    expect(wrong.status).toBe(401);
  }, 30_000);

  it("needs no key at all when anonymous access is enabled", async () => {
    const gw = await startGateway({ INFERENCE_URL: inferenceUrl, GATEWAY_ALLOW_ANONYMOUS: "true" });
    expect(gw.stderr.join("\n")).not.toContain("sk-slm-");
    expect((await fetch(`${gw.url}/v1/models`)).status).toBe(200);
  }, 30_000);

  it("exits 1 with one line naming the bad variable", async () => {
    const child = spawnGateway({ GATEWAY_PORT: "not-a-port", GATEWAY_API_KEYS: "short" });
    const stderr: string[] = [];
    lines(child.stderr!, stderr);
    const [code] = await once(child, "exit");
    expect(code).toBe(1);
    const line = stderr.find((l) => l.startsWith("gateway: "));
    expect(line).toMatch(/GATEWAY_PORT/);
    expect(line).toMatch(/GATEWAY_API_KEYS/);
    expect(line).not.toContain("short");
    expect(line).not.toContain("not-a-port");
  }, 30_000);
});
