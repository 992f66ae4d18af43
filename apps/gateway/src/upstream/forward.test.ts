import { describe, expect, it } from "vitest";
import { CHAT, chatInit, KEY, ok, sleep, testApp, type UpstreamCall } from "../../test/support/test-app.ts";

type Envelope = { error: { message: string; type: string; param: string | null; code: string | null } };
const auth = { authorization: `Bearer ${KEY}` };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function chunk(content: string) {
  return `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", system_fingerprint: null, choices: [{ index: 0, delta: { content }, finish_reason: null, logprobs: null }] })}\n\n`;
}

/** Resolves when `signal` aborts; rejects the way fetch does (with the signal's reason). */
function untilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** A stream that sends one chunk, then nothing until the request is aborted (then it errors, as a cut fetch body does). */
function oneChunkThenHang(call: UpstreamCall): Response {
  return new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(chunk("a")));
        call.signal?.addEventListener("abort", () => controller.error(call.signal!.reason));
      },
    }),
    { headers: { "content-type": "text/event-stream" } },
  );
}

describe("forwarding", () => {
  it("forwards the request id and echoes it; never forwards the caller's Authorization", async () => {
    const { app, upstream } = testApp({}, { "POST /v1/chat/completions": ok });
    const res = await app.request("/v1/chat/completions", chatInit(CHAT, { "x-request-id": "trace.abc-123_x" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("trace.abc-123_x");
    const call = upstream.last()!;
    expect(call.url).toBe("http://inference.internal:8081/v1/chat/completions");
    expect(call.headers.get("x-request-id")).toBe("trace.abc-123_x");
    expect(call.headers.get("authorization")).toBeNull();
  });

  it.each([["has spaces"], ["x".repeat(129)], ["semi;colon"], ["a=b"]])(
    "replaces a malformed request id (%s) with a UUID",
    async (id) => {
      const { app, upstream } = testApp({}, { "POST /v1/chat/completions": ok });
      const res = await app.request("/v1/chat/completions", chatInit(CHAT, { "x-request-id": id }));
      const echoed = res.headers.get("x-request-id");
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
      expect(upstream.last()!.headers.get("x-request-id")).toBe(echoed);
    },
  );

  it("echoes a request id on errors too", async () => {
    const { app } = testApp();
    const res = await app.request("/v1/models", { headers: { "x-request-id": "req-401" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toBe("req-401");
    expect((await app.request("/nope", { headers: { "x-request-id": "req-404" } })).headers.get("x-request-id")).toBe(
      "req-404",
    );
  });

  it("serves GET /v1/models from inference's list, cached", async () => {
    const list = { object: "list", data: [{ id: "m", object: "model", created: 1, owned_by: "me" }] };
    const { app, upstream } = testApp({}, { "GET /v1/models": () => Response.json(list) });
    for (let i = 0; i < 3; i++) {
      const res = await app.request("/v1/models", { headers: auth });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(list);
    }
    expect(upstream.calls.filter((c) => c.path === "/v1/models")).toHaveLength(1);
  });

  it("copies only safe response headers, and adds secure headers", async () => {
    const { app } = testApp(
      {},
      {
        "POST /v1/chat/completions": () =>
          new Response(JSON.stringify({ ok: 1 }), {
            headers: {
              "content-type": "application/json",
              "cache-control": "no-store",
              server: "inference/1.0",
              "x-powered-by": "hono",
              "x-internal-host": "10.0.0.5:8081",
              "set-cookie": "a=b",
            },
          }),
      },
    );
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("cache-control")).toBe("no-store");
    for (const name of ["server", "x-powered-by", "x-internal-host", "set-cookie"])
      expect(res.headers.get(name)).toBeNull();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("answers 503 upstream_unavailable when inference is unreachable, without its address", async () => {
    const { app } = testApp({
      fetch: async () => {
        throw new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:8081") });
      },
    });
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: {
        message: "The inference service is unavailable.",
        type: "service_unavailable",
        param: null,
        code: "upstream_unavailable",
      },
    });
    expect(text).not.toMatch(/127\.0\.0\.1|8081|ECONNREFUSED|inference\.internal/);
    expect(res.headers.get("retry-after")).toBe("1");
  });

  it("answers 504 upstream_timeout when inference does not answer in time", async () => {
    const { app, upstream } = testApp(
      { limits: { maxBodyBytes: 4096, maxTokens: 256, upstreamTimeoutMs: 50 } },
      { "POST /v1/chat/completions": (call) => untilAborted(call.signal) },
    );
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(res.status).toBe(504);
    expect(((await res.json()) as Envelope).error).toMatchObject({ type: "server_error", code: "upstream_timeout" });
    expect(upstream.last()!.signal!.aborted).toBe(true);
  });

  it("relays an upstream error envelope with its status, scrubbed", async () => {
    const message =
      "model load failed: GET https://huggingface.co/org/m/resolve/main/m.gguf?token=x with hf_abcdefghijklmnop " +
      "from 10.1.2.3:8081 (also [::1]:9000 and 192.168.0.7), cache /root/.cache/huggingface/hub/m.gguf, inference.internal:8081";
    const { app } = testApp(
      {},
      {
        "POST /v1/chat/completions": () =>
          Response.json(
            { error: { message, type: "service_unavailable", param: null, code: "model_loading" } },
            { status: 503, headers: { "retry-after": "5", server: "secret" } },
          ),
      },
    );
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.headers.get("server")).toBeNull();
    const body = (await res.json()) as Envelope;
    expect(body.error.type).toBe("service_unavailable");
    expect(body.error.code).toBe("model_loading");
    expect(body.error.message).toMatch(/^model load failed: GET \[url\] with \[token\] from \[address\]/);
    for (const leak of [
      "huggingface.co",
      "hf_abc",
      "10.1.2.3",
      "::1",
      "9000",
      "192.168",
      "/root",
      "inference.internal",
      "8081",
    ]) {
      expect(body.error.message).not.toContain(leak);
    }
  });

  it("turns a non-JSON upstream error into a generic 502", async () => {
    const { app } = testApp(
      {},
      {
        "POST /v1/chat/completions": () =>
          new Response("<html>nginx at 10.0.0.1</html>", { status: 500, headers: { "content-type": "text/html" } }),
      },
    );
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: {
        message: "The inference service returned an invalid response.",
        type: "server_error",
        param: null,
        code: "upstream_error",
      },
    });
    expect(text).not.toContain("10.0.0.1");
  });

  it("passes an SSE body through chunk by chunk", async () => {
    let upstreamDone = false;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { app } = testApp(
      {},
      {
        "POST /v1/chat/completions": () =>
          new Response(
            new ReadableStream<Uint8Array>({
              async start(controller) {
                controller.enqueue(encoder.encode(chunk("Hel")));
                await released; // the rest only once the client has seen the first chunk
                await sleep(20);
                controller.enqueue(encoder.encode(chunk("lo")));
                await sleep(20);
                controller.enqueue(encoder.encode("data: [DONE]\n\n"));
                upstreamDone = true;
                controller.close();
              },
            }),
            { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } },
          ),
      },
    );
    const res = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("x-accel-buffering")).toBe("no");
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(decoder.decode(first.value)).toBe(chunk("Hel"));
    expect(upstreamDone).toBe(false);
    release();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += decoder.decode(value);
    }
    expect(rest).toBe(chunk("lo") + "data: [DONE]\n\n");
    expect(upstreamDone).toBe(true);
  });

  it("propagates a client abort to the upstream request", async () => {
    let seen: UpstreamCall | undefined;
    const { app } = testApp(
      {},
      {
        "POST /v1/chat/completions": (call) => {
          seen = call;
          return untilAborted(call.signal);
        },
      },
    );
    const client = new AbortController();
    const pending = app.request(
      new Request("http://gw/v1/chat/completions", { ...chatInit(CHAT), signal: client.signal }),
    );
    await sleep(20);
    expect(seen?.signal?.aborted).toBe(false);
    client.abort();
    const res = await pending;
    expect(seen!.signal!.aborted).toBe(true);
    expect(res.status).toBe(499);
  });

  it("propagates a client abort mid-stream to the upstream signal", async () => {
    let seen: UpstreamCall | undefined;
    const { app } = testApp(
      {},
      {
        "POST /v1/chat/completions": (call) => {
          seen = call;
          return oneChunkThenHang(call);
        },
      },
    );
    const client = new AbortController();
    const res = await app.request(
      new Request("http://gw/v1/chat/completions", { ...chatInit({ ...CHAT, stream: true }), signal: client.signal }),
    );
    const reader = res.body!.getReader();
    await reader.read();
    expect(seen!.signal!.aborted).toBe(false);
    client.abort();
    expect(seen!.signal!.aborted).toBe(true);
    await reader.cancel(); // what the server adapter does when the client has gone
  });

  it("charges a stream the client leaves after one chunk its prompt and its whole token cap", async () => {
    const { app } = testApp(
      { defaultPolicy: { tokensPerMinute: 1000 } },
      {
        "POST /v1/chat/completions": (call) => oneChunkThenHang(call),
      },
    );
    const client = new AbortController();
    const res = await app.request(
      new Request("http://gw/v1/chat/completions", { ...chatInit({ ...CHAT, stream: true }), signal: client.signal }),
    );
    const reader = res.body!.getReader();
    await reader.read();
    client.abort();
    await reader.cancel();
    await sleep(10);
    const next = await app.request("/v1/models", { headers: auth });
    expect(next.status).toBe(200);
    const remaining = Number(
      (await app.request("/v1/chat/completions", chatInit({ ...CHAT, max_tokens: 1 }))).headers.get(
        "x-ratelimit-remaining-tokens",
      ),
    );
    expect(remaining).toBeLessThanOrEqual(1000 - 256); // the cap (256) at least, plus the prompt's estimate
  });

  it("charges a JSON request the client aborts before the answer its prompt and its cap", async () => {
    let sent!: () => void;
    const forwarded = new Promise<void>((resolve) => (sent = resolve));
    const { app } = testApp(
      { defaultPolicy: { tokensPerMinute: 1000 } },
      {
        "POST /v1/chat/completions": (call) => {
          sent();
          return untilAborted(call.signal);
        },
      },
    );
    const client = new AbortController();
    const pending = app.request(
      new Request("http://gw/v1/chat/completions", { ...chatInit(CHAT), signal: client.signal }),
    );
    await forwarded; // inference has it (a client gone before that is never forwarded, and pays nothing)
    client.abort();
    expect((await pending).status).toBe(499);
    const remaining = Number(
      (await app.request("/v1/chat/completions", chatInit({ ...CHAT, max_tokens: 1 }))).headers.get(
        "x-ratelimit-remaining-tokens",
      ),
    );
    expect(remaining).toBeLessThanOrEqual(1000 - 256);
  });

  it("charges nothing for a request inference refuses, and the usage for one it answers", async () => {
    const { app, upstream } = testApp(
      { defaultPolicy: { tokensPerMinute: 1000 } },
      {
        "POST /v1/chat/completions": () =>
          Response.json(
            { error: { message: "bad", type: "invalid_request_error", param: null, code: "x" } },
            { status: 400 },
          ),
      },
    );
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(400);
    await sleep(10);
    // What is left is the quota less this request's own reservation (its prompt estimate + max_tokens 256) only.
    const worstCase = () => Math.ceil(upstream.last()!.body!.length / 4) + 256;
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(res.headers.get("x-ratelimit-remaining-tokens")).toBe(String(1000 - worstCase()));
  });

  it("ends a stream that times out mid-way with an SSE error event", async () => {
    const { app } = testApp(
      { limits: { maxBodyBytes: 4096, maxTokens: 256, upstreamTimeoutMs: 80 } },
      {
        "POST /v1/chat/completions": (call) =>
          new Response(
            new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(encoder.encode(chunk("a")));
                call.signal?.addEventListener("abort", () => controller.error(call.signal!.reason));
              },
            }),
            { headers: { "content-type": "text/event-stream" } },
          ),
      },
    );
    const res = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
    const text = await res.text();
    expect(text.startsWith(chunk("a"))).toBe(true);
    const tail = text.slice(chunk("a").length);
    expect(tail).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(tail.replace(/^event: error\ndata: /, "")).error.code).toBe("upstream_timeout");
  });
});

describe("forwarding: the internal key, replicas, backpressure", () => {
  const INTERNAL = "internal-inference-key-0123456789";

  it("sends the internal key to inference only, and scrubs it from anything relayed", async () => {
    const { app, upstream } = testApp(
      { inferenceApiKey: INTERNAL },
      {
        "POST /v1/chat/completions": (call) =>
          Response.json(
            {
              error: {
                message: `bad request with header ${call.headers.get("authorization")} (key ${INTERNAL})`,
                type: "invalid_request_error",
                param: null,
                code: null,
              },
            },
            { status: 400 },
          ),
      },
    );
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(upstream.last()!.headers.get("authorization")).toBe(`Bearer ${INTERNAL}`);
    expect(upstream.calls.find((c) => c.path === "/v1/models")!.headers.get("authorization")).toBe(
      `Bearer ${INTERNAL}`,
    );
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toContain("bad request with header");
    expect(text).not.toContain(INTERNAL);
    expect(text).not.toContain(KEY);
  });

  it("turns inference refusing the internal key into a 502, not an authentication error for the client", async () => {
    const { app } = testApp(
      { inferenceApiKey: "wrong-internal-key-0123456789" },
      {
        "POST /v1/chat/completions": () =>
          Response.json(
            {
              error: {
                message: "Incorrect API key provided.",
                type: "authentication_error",
                param: null,
                code: "invalid_api_key",
              },
            },
            { status: 401 },
          ),
      },
    );
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(res.status).toBe(502);
    expect(((await res.json()) as Envelope).error).toMatchObject({ type: "server_error", code: "upstream_error" });
  });

  it("retries a refused connection once on another replica and marks the first one down", async () => {
    const seen: string[] = [];
    const { app } = testApp({
      inferenceUrls: ["http://replica-a:1", "http://replica-b:2"],
      fetch: async (url, init) => {
        seen.push(new URL(url).host);
        if (url.includes("/v1/models"))
          return Response.json({ object: "list", data: [{ id: "m", object: "model", created: 1, owned_by: "x" }] });
        if (url.includes("replica-a"))
          throw new TypeError("fetch failed", {
            cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
          });
        void init;
        return ok();
      },
    });
    for (let i = 0; i < 3; i++) expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(200);
    const chats = seen.slice(1);
    // replica-a refused once, then is skipped as unhealthy.
    expect(chats.filter((h) => h === "replica-a:1")).toHaveLength(1);
    expect(chats.filter((h) => h === "replica-b:2")).toHaveLength(3);
  });

  it("sheds load with 503 overloaded and Retry-After when every replica is at its in-flight cap", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { app } = testApp(
      { limits: { maxInflightPerReplica: 1 } },
      {
        "POST /v1/chat/completions": async () => {
          await held;
          return ok();
        },
      },
    );
    await app.request("/v1/models", { headers: auth }); // the model list, fetched before the slot is taken
    const first = app.request("/v1/chat/completions", chatInit(CHAT));
    await sleep(10);
    const second = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(second.status).toBe(503);
    expect(second.headers.get("retry-after")).toBe("1");
    expect(((await second.json()) as Envelope).error.code).toBe("overloaded");
    release();
    expect((await first).status).toBe(200);
  });
});
