import { once } from "node:events";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/keys/api-key.ts";
import { sleep, startGateway, stopAll, until, type GatewayProcess } from "./support/gateway-process.ts";
import { expectDisconnectAbortsUpstream } from "./support/disconnect.ts";
import { smoke } from "./support/smoke.ts";
import { startStubInference, type StubInference } from "./support/stub-inference.ts";

/**
 * The gateway as a Node process in front of a stub inference, driven with the official `openai` client: keys from a
 * file (rotated while running), policies, quotas, shaping, streaming, disconnects, broken upstreams, replicas.
 */

const FULL = "sk-full-key-0123456789abcdefgh";
const LIMITED = "sk-limited-key-0123456789abcd";
const ROTATED = "sk-rotated-key-0123456789abc";
const INTERNAL = "internal-inference-key-0123456789";

let stub: StubInference;
const dir = mkdtempSync(join(tmpdir(), "gateway-keys-"));
const keysFile = join(dir, "keys.json");

async function writeKeys(keys: object[]): Promise<void> {
  // Written beside and renamed into place, as deployment tools do.
  writeFileSync(`${keysFile}.tmp`, JSON.stringify({ keys }));
  renameSync(`${keysFile}.tmp`, keysFile);
}

beforeAll(async () => {
  stub = await startStubInference({ requireKey: INTERNAL });
});

afterAll(async () => {
  await stopAll();
  await stub?.close();
  rmSync(dir, { recursive: true, force: true });
});

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e,
  );

describe("gateway process (Node) with a key file", () => {
  let gw: GatewayProcess;
  let full: OpenAI;
  let limited: OpenAI;

  beforeAll(async () => {
    await writeKeys([
      { id: "full", key: FULL },
      {
        id: "limited",
        key: `sha256:${await sha256Hex(LIMITED)}`,
        models: ["stub-model"],
        maxTokens: 8,
        requestsPerMinute: 4,
      },
    ]);
    gw = await startGateway({
      INFERENCE_URL: stub.url,
      INFERENCE_API_KEY: INTERNAL,
      GATEWAY_KEYS_FILE: keysFile,
      GATEWAY_MAX_TOKENS: "64",
      GATEWAY_TOKENS_PER_MINUTE: "100000",
    });
    full = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: FULL, maxRetries: 0 });
    limited = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: LIMITED, maxRetries: 0 });
  }, 60_000);

  it("prints one JSON startup line, and never a key", () => {
    const startup = gw.logs().find((l) => l["msg"] === "listening");
    expect(startup).toMatchObject({
      address: gw.url,
      runtime: "node",
      auth: "api_key",
      keys: 2,
      keysFile: true,
      quotaStore: "memory",
    });
    const all = gw.lines.join("\n");
    for (const secret of [FULL, LIMITED, INTERNAL]) expect(all).not.toContain(secret);
  });

  it("streams through the openai client chunk by chunk, with the usage it asked for", async () => {
    const stream = await full.chat.completions.create({
      model: "stub-model",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 10_000,
    });
    let text = "";
    let chunks = 0;
    let firstAt: number | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const part of stream) {
      const delta = part.choices[0]?.delta.content;
      if (delta) {
        firstAt ??= Date.now();
        chunks++;
        text += delta;
      }
      if (part.usage) usage = part.usage;
    }
    expect(text).toBe("Hello there");
    expect(chunks).toBe(3);
    expect(usage).toEqual({ prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
    expect(firstAt!).toBeLessThan(stub.streams.at(-1)!.finishedAt!); // relayed as produced, not buffered
    const upstream = stub.chats().at(-1)!;
    expect(upstream.body?.["max_tokens"]).toBe(64);
    expect(upstream.headers["x-request-id"]).toMatch(/^[\w.-]{1,128}$/);
    expect(upstream.headers["authorization"]).toBe(`Bearer ${INTERNAL}`);
  });

  it("refuses missing and wrong keys with AuthenticationError", async () => {
    const none = await fetch(`${gw.url}/v1/models`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    const wrong = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "sk-wrong-key-0123456789ab", maxRetries: 0 });
    const error = await errorOf(wrong.models.list());
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe("invalid_api_key");
  });

  it("holds a key to its model allowlist, in the list and in requests", async () => {
    expect((await full.models.list()).data.map((m) => m.id)).toEqual(["stub-model", "slow", "dying"]);
    expect((await limited.models.list()).data.map((m) => m.id)).toEqual(["stub-model"]);
    const error = await errorOf(
      limited.chat.completions.create({ model: "slow", messages: [{ role: "user", content: "hi" }] }),
    );
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
  });

  it("clamps max_tokens to the key's cap", async () => {
    await limited.chat.completions.create({
      model: "stub-model",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 10_000,
    });
    expect(stub.chats().at(-1)!.body?.["max_tokens"]).toBe(8);
  });

  it("answers validation errors with BadRequestError naming the field", async () => {
    const error = await errorOf(
      full.chat.completions.create({
        model: "stub-model",
        messages: [{ role: "user", content: "hi" }],
        temperature: 7,
      }),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("temperature");
  });

  it("raises RateLimitError with the RateLimit fields and Retry-After past the key's quota", async () => {
    // The limited key has used 3 of its 4 requests per minute above (list, refused model, clamp).
    await limited.models.list();
    const error = await errorOf(limited.models.list());
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const headers = (error as InstanceType<typeof OpenAI.RateLimitError>).headers;
    expect(headers.get("ratelimit-policy")).toBe('"requests";q=4;w=60');
    expect(headers.get("ratelimit")).toMatch(/^"requests";r=0;t=\d+$/);
    expect(Number(headers.get("retry-after"))).toBeGreaterThan(0);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe("rate_limit_exceeded");
  });

  it("retrieves a model by id (models.retrieve), and serves a chat that names no model or a URL for one", async () => {
    expect(await full.models.retrieve("slow")).toMatchObject({ id: "slow", object: "model" });
    const missing = await errorOf(full.models.retrieve("no-such-model"));
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
    // The openai client's types require `model`; the Hugging Face client sends its endpoint URL in its place.
    for (const model of [undefined, `${gw.url}/v1/chat/completions`]) {
      const chat = await full.chat.completions.create({
        model: model as unknown as string,
        messages: [{ role: "user", content: "hi" }],
      });
      expect(chat.choices[0]?.message.role).toBe("assistant");
      expect(stub.chats().at(-1)!.body?.["model"]).toBe("stub-model");
    }
  });

  it("aborts the upstream generation when the client disconnects", async () => {
    await expectDisconnectAbortsUpstream({ url: gw.url, key: FULL, stub, timeoutMs: 3000 });
  });

  it("ends a stream whose upstream dies midway with a typed error the client raises", async () => {
    const stream = await full.chat.completions.create({
      model: "dying",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    let text = "";
    const error = await errorOf(
      (async () => {
        for await (const part of stream) text += part.choices[0]?.delta?.content ?? "";
      })(),
    );
    expect(text).toBe("Hello");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toContain("The inference service closed the stream unexpectedly.");
    expect(JSON.stringify(error)).not.toContain("127.0.0.1");
  });

  it("never relays inference's internal details (its headers, addresses, the internal key)", async () => {
    const res = await fetch(`${gw.url}/v1/models`, {
      headers: { authorization: `Bearer ${FULL}`, "x-request-id": "e2e-req.1" },
    });
    expect(res.headers.get("x-request-id")).toBe("e2e-req.1");
    expect(res.headers.get("server")).toBeNull();
    expect(res.headers.get("x-internal-node")).toBeNull();
  });

  it("rotates keys without a restart: the file changing, and SIGHUP", async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: ROTATED, maxRetries: 0 });
    expect(await errorOf(client.models.list())).toBeInstanceOf(OpenAI.AuthenticationError);
    await writeKeys([
      { id: "full", key: FULL },
      { id: "rotated", key: ROTATED },
    ]);
    await until(
      async () =>
        (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${ROTATED}` } })).status === 200,
      5000,
    );
    expect(
      gw.logs().some((l) => l["msg"] === "keys reloaded" && l["reason"] === "key file changed" && l["keys"] === 2),
    ).toBe(true);
    // The limited key was dropped from the file.
    expect((await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${LIMITED}` } })).status).toBe(401);

    // A broken file keeps the keys in force.
    writeFileSync(keysFile, "{ not json");
    gw.service.child.kill("SIGHUP");
    await until(() => gw.logs().some((l) => l["msg"] === "keys not reloaded: keeping the current keys"), 5000);
    expect((await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${ROTATED}` } })).status).toBe(200);
  });

  it("logs each request with its id and key id, never the key", async () => {
    await sleep(20); // the access log is written in batches
    const line = gw.logs().find((l) => l["msg"] === "request" && l["requestId"] === "e2e-req.1");
    expect(line).toMatchObject({ method: "GET", path: "/v1/models", status: 200, keyId: "full" });
    const all = gw.lines.join("\n");
    for (const secret of [FULL, LIMITED, ROTATED, INTERNAL]) expect(all).not.toContain(secret);
  });

  it("serves /metrics with the token; without it a 404, even from loopback", async () => {
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(404);
    const text = await (await gw.metrics()).text();
    expect(text).toMatch(/gateway_requests_total\{route="\/v1\/models",status="200",key_id="full"\}/);
    expect(text).toMatch(/gateway_rate_limited_total\{reason="requests"\} 1/);
    expect(text).toContain("gateway_open_streams 0");
    expect(text).toMatch(/gateway_upstream_latency_seconds_bucket/);
  });

  it("shuts down gracefully on SIGTERM", async () => {
    const exited = once(gw.service.child, "exit");
    gw.service.child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(gw.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  }, 15_000);
});

describe("gateway process (Node): the shared smoke test", () => {
  it("passes", async () => {
    const key = "sk-smoke-key-0123456789abcdef";
    const gw = await startGateway({
      INFERENCE_URL: stub.url,
      INFERENCE_API_KEY: INTERNAL,
      GATEWAY_API_KEYS: key,
      GATEWAY_REQUESTS_PER_MINUTE: "8",
      GATEWAY_TOKENS_PER_MINUTE: "100000",
    });
    await smoke({ url: gw.url, key, internalKey: INTERNAL, requestsPerMinute: 8, stub });
  }, 60_000);
});

describe("gateway process (Node) with a metrics listener", () => {
  it("serves /metrics without a token on 127.0.0.1:GATEWAY_METRICS_PORT only", async () => {
    const gw = await startGateway({
      INFERENCE_URL: "http://127.0.0.1:9",
      GATEWAY_API_KEYS: "sk-metrics-port-0123456789",
      GATEWAY_METRICS_TOKEN: "",
      GATEWAY_METRICS_PORT: "0",
    });
    await until(() => gw.logs().some((l) => l["msg"] === "metrics listening"));
    const port = gw.logs().find((l) => l["msg"] === "metrics listening")!["port"];
    const scraped = await fetch(`http://127.0.0.1:${String(port)}/metrics`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("gateway_open_streams 0");
    expect((await fetch(`http://127.0.0.1:${String(port)}/v1/models`)).status).toBe(404);
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(404);
  });
});

describe("gateway process (Node) with several inference replicas", () => {
  it("spreads requests, and keeps serving when a replica goes away", async () => {
    const a = await startStubInference({ name: "a" });
    const b = await startStubInference({ name: "b" });
    try {
      const key = "sk-replicas-0123456789abcdef";
      const gw = await startGateway({
        INFERENCE_URL: `${a.url},${b.url}`,
        GATEWAY_API_KEYS: key,
        GATEWAY_HEALTH_INTERVAL_MS: "200",
      });
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
      const ask = () =>
        client.chat.completions.create({ model: "stub-model", messages: [{ role: "user", content: "hi" }] });
      const ids = await Promise.all(Array.from({ length: 6 }, () => ask().then((r) => r.id)));
      expect(new Set(ids)).toEqual(new Set(["chatcmpl-a", "chatcmpl-b"]));

      await a.close();
      const after = [];
      for (let i = 0; i < 4; i++) after.push((await ask()).id);
      expect(after).toEqual(["chatcmpl-b", "chatcmpl-b", "chatcmpl-b", "chatcmpl-b"]);
      expect((await fetch(`${gw.url}/ready`)).status).toBe(200);
      await until(
        () => gw.logs().some((l) => l["msg"] === "inference replica unhealthy" && l["replica"] === "0"),
        3000,
      );
      const text = await (await gw.metrics()).text();
      expect(text).toContain('gateway_replica_up{replica="0"} 0');
      expect(text).toContain('gateway_replica_up{replica="1"} 1');
      expect(gw.lines.join("\n")).not.toContain(a.url);
    } finally {
      await a.close().catch(() => {});
      await b.close();
    }
  }, 60_000);
});

describe("gateway process (Node) without configured keys", () => {
  it("generates a key, prints it once, accepts it and refuses requests without it", async () => {
    const gw = await startGateway({ INFERENCE_URL: stub.url, INFERENCE_API_KEY: INTERNAL });
    const keyLines = gw.lines.filter((l) => /sk-slm-/.test(l));
    expect(keyLines).toHaveLength(1);
    const key = /(sk-slm-[A-Za-z0-9_-]{43})/.exec(keyLines[0]!)![1]!;
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
    expect((await client.models.list()).data.length).toBeGreaterThan(0);
    expect((await fetch(`${gw.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${gw.url}/v1/models`, { headers: { authorization: "Bearer sk-slm-guess" } })).status).toBe(
      401,
    );
  }, 30_000);

  it("needs no key at all when anonymous access is enabled, and limits each client address", async () => {
    const gw = await startGateway({
      INFERENCE_URL: stub.url,
      INFERENCE_API_KEY: INTERNAL,
      GATEWAY_ALLOW_ANONYMOUS: "true",
      GATEWAY_IP_REQUESTS_PER_MINUTE: "2",
    });
    expect(gw.lines.join("\n")).not.toContain("sk-slm-");
    expect((await fetch(`${gw.url}/v1/models`)).status).toBe(200);
    expect((await fetch(`${gw.url}/v1/models`)).status).toBe(200);
    const limited = await fetch(`${gw.url}/v1/models`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("ratelimit-policy")).toBe('"ip";q=2;w=60');
  }, 30_000);

  it("exits 1 with one line naming the bad variables, without their values", async () => {
    const error = await errorOf(
      startGateway({ GATEWAY_PORT: "not-a-port", GATEWAY_API_KEYS: "short", REDIS_URL: "http://secret-host" }),
    );
    const lines = (error as { lines: string[] }).lines;
    const line = lines.find((l) => l.startsWith("gateway: "))!;
    expect(line).toMatch(/GATEWAY_PORT/);
    expect(line).toMatch(/GATEWAY_API_KEYS/);
    expect(line).toMatch(/REDIS_URL/);
    for (const value of ["short", "not-a-port", "secret-host"]) expect(line).not.toContain(value);
  }, 30_000);

  it("exits 1 naming the problem when the key file is invalid, without its values", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ keys: [{ key: "tiny-secret" }] }));
    const error = await errorOf(startGateway({ GATEWAY_KEYS_FILE: bad }));
    const line = (error as { lines: string[] }).lines.find((l) => l.startsWith("gateway: "))!;
    expect(line).toMatch(/cannot load keys: key file: keys\.0\.key/);
    expect(line).not.toContain("tiny-secret");
  }, 30_000);
});
