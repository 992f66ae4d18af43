import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep, startGateway, stopAll, until, type GatewayProcess } from "./support/gateway-process.ts";
import { startStubInference, type StubInference } from "./support/stub-inference.ts";

/**
 * The smaller points of issue 22's finding 7, on a real Node gateway process: a slow request body is cut off at
 * GATEWAY_BODY_TIMEOUT_MS (408, connection closed); one address cannot hold more than GATEWAY_MAX_CONNECTIONS_PER_IP
 * connections; with Redis down and GATEWAY_REDIS_FAILURE=closed every request is a 503, failed sign-ins included; a
 * caller's X-Request-Id reaches the logs and inference only in a safe shape; a caller's text never reaches a log line.
 */

const KEY = "sk-client-limits-0123456789ab";
let stub: StubInference;

beforeAll(async () => {
  stub = await startStubInference();
});

afterAll(async () => {
  await stopAll();
  await stub?.close();
});

interface Raw {
  socket: Socket;
  /** Everything received so far (latin1). */
  text(): string;
  /** Resolves when the server closed or ended the connection. */
  closed: Promise<void>;
}

function raw(port: number, data?: string): Raw {
  const socket = connect({ host: "127.0.0.1", port });
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => {
    socket.once("end", resolve);
    socket.once("close", resolve);
  });
  if (data !== undefined) socket.write(data);
  return { socket, text: () => text, closed };
}

const head = (port: number, path: string, headers: Record<string, string>) =>
  `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n` +
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("") +
  "\r\n";

const envelopeOf = (text: string) => JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as { error: object };

describe("slow bodies and many connections", () => {
  let gw: GatewayProcess;
  let port: number;

  beforeAll(async () => {
    gw = await startGateway({
      INFERENCE_URL: stub.url,
      GATEWAY_API_KEYS: KEY,
      GATEWAY_BODY_TIMEOUT_MS: "300",
      GATEWAY_MAX_CONNECTIONS_PER_IP: "4",
    });
    port = Number(new URL(gw.url).port);
  });

  it("answers a body that does not arrive in time with 408 naming the limit, and closes the connection", async () => {
    const body = JSON.stringify({ model: "stub-model", messages: [{ role: "user", content: "hi" }] });
    const slow = raw(
      port,
      head(port, "/v1/chat/completions", {
        authorization: `Bearer ${KEY}`,
        "content-type": "application/json",
        "content-length": String(body.length),
      }) + body.slice(0, 10),
    );
    await slow.closed; // by the server: the client never sends the rest
    expect(slow.text()).toMatch(/^HTTP\/1\.1 408 /);
    expect(slow.text().toLowerCase()).toContain("connection: close");
    expect(envelopeOf(slow.text())).toEqual({
      error: {
        message: "Request body not received in time: the limit is 300 ms.",
        type: "invalid_request_error",
        param: null,
        code: "request_timeout",
      },
    });
    expect(stub.chats()).toHaveLength(0);
  });

  it("serves at most GATEWAY_MAX_CONNECTIONS_PER_IP connections per address: the next one gets 429 and is closed", async () => {
    const held = Array.from({ length: 4 }, () => raw(port));
    await Promise.all(held.map((h) => new Promise((resolve) => h.socket.once("connect", resolve))));
    await sleep(50);
    const extra = raw(port, "GET /health HTTP/1.1\r\nhost: x\r\n\r\n");
    await extra.closed;
    expect(extra.text()).toMatch(/^HTTP\/1\.1 429 /);
    expect(extra.text().toLowerCase()).toContain("retry-after: 1");
    expect(envelopeOf(extra.text())).toEqual({
      error: {
        message: "Too many open connections from this address: the limit is 4. Reuse connections or close some.",
        type: "rate_limit_error",
        param: null,
        code: "too_many_connections",
      },
    });
    // One that sends nothing is closed all the same (after a short grace).
    const idle = raw(port);
    await idle.closed;
    expect(idle.text()).toBe("");
    // The held connections are served; once one closes, a new connection is served too.
    held[0]!.socket.write("GET /health HTTP/1.1\r\nhost: x\r\n\r\n");
    await until(() => held[0]!.text().startsWith("HTTP/1.1 200"));
    held[1]!.socket.destroy();
    await sleep(50);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    for (const h of held) h.socket.destroy();
  });
});

describe("Redis down, failing closed", () => {
  it("answers every request 503 rate_limiter_unavailable: a valid key, a wrong one, none", async () => {
    const gw = await startGateway({
      INFERENCE_URL: stub.url,
      GATEWAY_API_KEYS: KEY,
      REDIS_URL: "redis://127.0.0.1:1", // nothing listens on port 1
      GATEWAY_REDIS_FAILURE: "closed",
    });
    for (const authorization of [`Bearer ${KEY}`, "Bearer sk-wrong-key-0123456789abc", undefined]) {
      const res = await fetch(`${gw.url}/v1/models`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("rate_limiter_unavailable");
    }
    expect(gw.logs().filter((l) => l["msg"] === "unhandled error")).toEqual([]);
  }, 30_000);
});

describe("what callers write", () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway({ INFERENCE_URL: stub.url, GATEWAY_API_KEYS: KEY });
  });
  const ask = async (id: string, content = "hi") => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "x-request-id": id },
      body: JSON.stringify({ model: "stub-model", messages: [{ role: "user", content }] }),
    });
    await res.text();
    return res.headers.get("x-request-id")!;
  };

  it("keeps a safe request id and replaces any other, in the response, the logs and towards inference", async () => {
    for (const forged of ["a=b", 'x" level="error', "\u00e9t\u00e9", "x".repeat(129)]) {
      const id = await ask(forged);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(stub.chats().at(-1)!.headers["x-request-id"]).toBe(id);
    }
    expect(await ask("trace:4bf92f35.req_1-a")).toBe("trace:4bf92f35.req_1-a");
    expect(stub.chats().at(-1)!.headers["x-request-id"]).toBe("trace:4bf92f35.req_1-a");
    await sleep(50); // the access log is written in batches
    expect(gw.lines.join("\n")).not.toMatch(/a=b|level="error|\u00e9t\u00e9|xxxxxxxxxx/);
  });

  it("never writes a caller's text - a message, a made-up path, a broken body - to a log line", async () => {
    await ask("user-text", "MY-SECRET-PROMPT-TEXT");
    await fetch(`${gw.url}/v1/MY-SECRET-PATH-TEXT`, { headers: { authorization: `Bearer ${KEY}` } });
    await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: '{"model": "MY-SECRET-MODEL-TEXT", "messages": [',
    });
    await sleep(50); // the access log is written in batches
    expect(gw.lines.join("\n")).not.toMatch(/MY-SECRET/);
  });
});
