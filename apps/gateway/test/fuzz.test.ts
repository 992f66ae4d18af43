import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, stopAll, type GatewayProcess } from "./support/gateway-process.ts";
import { startStubInference, type StubInference } from "./support/stub-inference.ts";

/**
 * Fuzzing the public surface of a real gateway process, seeded and bounded: malformed JSON, wrong types, huge and
 * chunked bodies, odd and malformed headers (raw sockets, which fetch would refuse to send), invalid UTF-8, odd
 * paths and methods. Whatever comes in: never a 5xx, never a crash, never a secret or an internal detail out.
 */

const KEY = "sk-fuzz-key-0123456789abcdefgh";
const INTERNAL = "internal-fuzz-key-0123456789abc";
const ITERATIONS = 400;
const MAX_BODY = 8192;

let stub: StubInference;
let gw: GatewayProcess;
let port: number;

beforeAll(async () => {
  stub = await startStubInference({ requireKey: INTERNAL });
  gw = await startGateway({
    INFERENCE_URL: stub.url,
    INFERENCE_API_KEY: INTERNAL,
    GATEWAY_API_KEYS: KEY,
    GATEWAY_MAX_BODY_BYTES: String(MAX_BODY),
    GATEWAY_REQUESTS_PER_MINUTE: "0",
    GATEWAY_IP_REQUESTS_PER_MINUTE: "0",
    GATEWAY_TOKENS_PER_MINUTE: "1000000",
  });
  port = Number(new URL(gw.url).port);
}, 60_000);

afterAll(async () => {
  await stopAll();
  await stub?.close();
});

/** mulberry32: a small seeded PRNG, so a failure replays. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}

interface RawResult {
  status: number;
  text: string;
}

/**
 * One HTTP/1.1 exchange over a raw socket (Connection: close: the server closes after answering); status 0 if it closed
 * without an answer. The client does not half-close: Node's HTTP server drops the pending answer of a client that does.
 */
function raw(request: Uint8Array): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      if (chunks.length === 0) reject(new Error("no answer in time"));
    }, 10_000);
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", () => {}); // a reset after an early answer is fine
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.write(request);
  });
}

const encoder = new TextEncoder();
const concat = (...parts: (string | Uint8Array)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));

function request(
  method: string,
  path: string,
  headers: [string, string][],
  body?: Uint8Array,
  chunked = false,
): Uint8Array {
  let head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  if (body && !chunked) head += `Content-Length: ${body.length}\r\n`;
  if (body && chunked) {
    head += "Transfer-Encoding: chunked\r\n\r\n";
    const parts: (string | Uint8Array)[] = [head];
    for (let i = 0; i < body.length; i += 1000) {
      const part = body.subarray(i, i + 1000);
      parts.push(`${part.length.toString(16)}\r\n`, part, "\r\n");
    }
    parts.push("0\r\n\r\n");
    return concat(...parts);
  }
  return concat(`${head}\r\n`, body ?? new Uint8Array());
}

const VALID = { model: "stub-model", messages: [{ role: "user", content: "hi" }], max_tokens: 5 };
const WEIRD_VALUES: unknown[] = [
  null,
  true,
  -1,
  0,
  1e308,
  -1e308,
  3.5,
  "",
  "x".repeat(300),
  [],
  {},
  [[[]]],
  { a: { b: { c: 1 } } },
  "\u0000",
  "\ud800",
  "💥",
  NaN,
];

function wrongTypes(r: ReturnType<typeof prng>): string {
  const body: Record<string, unknown> = structuredClone(VALID);
  const fields = [
    "model",
    "messages",
    "max_tokens",
    "temperature",
    "top_p",
    "stream",
    "stream_options",
    "stop",
    "n",
    "seed",
    "logit_bias",
    "response_format",
    "tools",
    "__proto__",
    "constructor",
  ];
  for (let i = 0; i < 1 + r.int(3); i++) body[r.pick(fields)] = r.pick(WEIRD_VALUES);
  if (r.next() < 0.3)
    body["messages"] = [{ role: r.pick(["user", "system", "tool", 5, null]), content: r.pick(WEIRD_VALUES) }];
  return JSON.stringify(body);
}

function malformed(r: ReturnType<typeof prng>): string {
  const text = JSON.stringify(VALID);
  switch (r.int(5)) {
    case 0:
      return text.slice(0, r.int(text.length));
    case 1: {
      const i = r.int(text.length);
      return text.slice(0, i) + r.pick(["{", "}", '"', ",", "\\", "[", "]", ":", "\u0000"]) + text.slice(i);
    }
    case 2:
      return r.pick(["", "null", "[]", "1", '"str"', "{}", "{{}}", "[".repeat(5000), '{"a":'.repeat(3000)]);
    case 3:
      return `${text}${text}`;
    default:
      return text.replace(/"/g, "'");
  }
}

function invalidUtf8(r: ReturnType<typeof prng>): Uint8Array {
  const text = encoder.encode(JSON.stringify(VALID));
  const bytes = new Uint8Array(text);
  const bad = [0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0];
  for (let i = 0; i < 1 + r.int(3); i++) bytes[r.int(bytes.length)] = r.pick(bad);
  return bytes;
}

const PATHS = [
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/models",
  "/v1/../metrics",
  "//v1/models",
  "/v1/chat/completions?x=%00",
  "/v1/%2e%2e/health",
  "/v1/chat/completions/",
  "/V1/MODELS",
  "/metrics",
  "/ready",
  "/playground/../v1/models",
  "/" + "a".repeat(3000),
];
const METHODS = ["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO"];
const AUTH = [
  `Bearer ${KEY}`,
  `bearer ${KEY}`,
  `Bearer  ${KEY} `,
  "Bearer",
  "Bearer ",
  "Basic dXNlcjpwYXNz",
  `Bearer ${"k".repeat(8000)}`,
  "Bearer sk-slm-guess",
  `Bearer ${KEY}x`,
  "",
  "Bearer \u00ff\u00fe",
];

function oddHeaders(r: ReturnType<typeof prng>): [string, string][] {
  const headers: [string, string][] = [["Authorization", r.pick(AUTH)]];
  const extra: [string, string][] = [
    [
      "Content-Type",
      r.pick([
        "application/json",
        "text/plain",
        "application/json; charset=latin1",
        "multipart/form-data; boundary=x",
        "",
        "\u00ff",
      ]),
    ],
    ["X-Request-Id", r.pick(["ok.id-1", "has spaces", "x".repeat(500), "../../etc", "a\tb", "\u00ff\u00fe"])],
    ["X-Forwarded-For", r.pick(["1.2.3.4", "garbage", "1.2.3.4, 5.6.7.8".repeat(50)])],
    ["Origin", r.pick(["https://evil.example", "null", ""])],
    ["Accept-Encoding", r.pick(["gzip", "br", "identity;q=0", "*"])],
    ["Transfer-Encoding", "gzip"],
    ["Content-Length", r.pick(["-1", "abc", "99999999999999999999"])],
    ["Authorization", `Bearer ${KEY}`],
    ["Bad Header", "x"],
    ["X-Long", "v".repeat(20_000)],
    ["Expect", "100-continue"],
  ];
  for (let i = 0; i < r.int(4); i++) headers.push(r.pick(extra));
  return headers;
}

const SECRETS = () => [
  INTERNAL,
  KEY,
  stub.url,
  new URL(stub.url).port,
  "10.9.8.7",
  "stub-inference",
  "x-internal-node",
  "/work/",
  ".ts:",
  "    at ",
];

describe("fuzz", () => {
  it(`survives ${ITERATIONS} hostile requests: no 5xx, no crash, no leak`, async () => {
    const r = prng(20_261_126);
    const failures: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const kind = r.int(7);
      const auth: [string, string][] = [
        ["Authorization", `Bearer ${KEY}`],
        ["Content-Type", "application/json"],
      ];
      let req: Uint8Array;
      let label: string;
      switch (kind) {
        case 0:
          label = "malformed JSON";
          req = request("POST", r.pick(PATHS.slice(0, 3)), auth, encoder.encode(malformed(r)));
          break;
        case 1:
          label = "wrong types";
          req = request("POST", r.pick(PATHS.slice(0, 3)), auth, encoder.encode(wrongTypes(r)));
          break;
        case 2: {
          label = "huge body";
          const size = MAX_BODY + 1 + r.int(4 * MAX_BODY);
          const body = encoder.encode(
            JSON.stringify({ ...VALID, messages: [{ role: "user", content: "x".repeat(size) }] }),
          );
          req = request("POST", "/v1/chat/completions", auth, body, r.next() < 0.5);
          break;
        }
        case 3:
          label = "odd headers";
          req = request(
            r.pick(["POST", "GET"]),
            r.pick(PATHS.slice(0, 4)),
            oddHeaders(r),
            encoder.encode(JSON.stringify({ ...VALID, stream: r.next() < 0.3 })),
          );
          break;
        case 4:
          label = "invalid UTF-8";
          req = request("POST", "/v1/chat/completions", auth, invalidUtf8(r));
          break;
        case 5:
          label = "odd path and method";
          req = request(
            r.pick(METHODS),
            r.pick(PATHS),
            r.next() < 0.5 ? auth : [],
            r.next() < 0.5 ? encoder.encode(JSON.stringify(VALID)) : undefined,
          );
          break;
        default:
          label = "garbage request line";
          req = concat(
            r.pick([
              "GET / HTTP/9.9\r\n\r\n",
              "\u0000\u0001\u0002\r\n\r\n",
              "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcdefg",
              "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + "X: y\r\n".repeat(500) + "\r\n",
            ]),
          );
      }
      const res = await raw(req);
      // A body over the limit may be answered (413) and the connection closed before the upload ends.
      if (res.status === 0 && label !== "huge body") failures.push(`#${i} ${label}: no answer`);
      if (res.status >= 500) failures.push(`#${i} ${label}: ${res.status} ${res.text.slice(0, 300)}`);
      for (const secret of SECRETS())
        if (res.text.includes(secret)) failures.push(`#${i} ${label}: leaked ${JSON.stringify(secret)}`);
    }
    expect(failures).toEqual([]);
    expect(gw.service.child.exitCode).toBeNull();
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    // And it still serves real traffic.
    const ok = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify(VALID),
    });
    expect(ok.status).toBe(200);
    expect(gw.logs().filter((l) => l["msg"] === "unhandled error")).toEqual([]);
  }, 120_000);
});
