import { describe, expect, it } from "vitest";
import { CHAT, chatInit, COMPLETION, ok, testApp } from "../../test/support/test-app.ts";
import { createQuotaStore } from "./quota-store.ts";

type Envelope = { error: { message: string; type: string; param: string | null; code: string | null } };
const encoder = new TextEncoder();
const sse = (parts: string[]) =>
  new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(encoder.encode(part));
        controller.close();
      },
    }),
    { headers: { "content-type": "text/event-stream" } },
  );
function untilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason), { once: true }));
}
const delta = (content: string) =>
  `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const usage = (total: number) =>
  `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 1, completion_tokens: total - 1, total_tokens: total } })}\n\n`;

describe("requests per minute", () => {
  it("advertises the quota on every response and refuses past it with 429, Retry-After and the envelope", async () => {
    const { app, upstream } = testApp({ defaultPolicy: { requestsPerMinute: 2 } }, { "POST /v1/chat/completions": ok });
    const first = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-policy")).toBe('"requests";q=2;w=60');
    expect(first.headers.get("ratelimit")).toMatch(/^"requests";r=1;t=(59|60)$/);
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).headers.get("ratelimit")).toMatch(/r=0;/);

    const refused = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
    expect(refused.headers.get("ratelimit")).toMatch(/^"requests";r=0;t=/);
    expect(((await refused.json()) as Envelope).error).toMatchObject({
      type: "rate_limit_error",
      code: "rate_limit_exceeded",
    });
    expect(upstream.api()).toHaveLength(2);
  });

  it("counts per key, not globally", async () => {
    const other = "sk-other-0123456789abcdef";
    const { app } = testApp(
      { apiKeys: ["sk-test-0123456789abcdef", other], defaultPolicy: { requestsPerMinute: 1 } },
      { "POST /v1/chat/completions": ok },
    );
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(200);
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(429);
    expect(
      (await app.request("/v1/chat/completions", chatInit(CHAT, { authorization: `Bearer ${other}` }))).status,
    ).toBe(200);
  });

  it("answers 503 when the shared store is down and the policy is to fail closed", async () => {
    const quotaStore = createQuotaStore({ redis: { status: "end", defineCommand() {} }, failure: "closed" });
    const { app, upstream } = testApp(
      { quotaStore, defaultPolicy: { requestsPerMinute: 5 } },
      { "POST /v1/chat/completions": ok },
    );
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(((await res.json()) as Envelope).error.code).toBe("rate_limiter_unavailable");
    expect(upstream.api()).toHaveLength(0);
  });
});

describe("tokens per minute", () => {
  it("reserves each request's worst case, settles at the answer's usage, and refuses what does not fit", async () => {
    // Each answer: 2 tokens. Each request's worst case: its prompt estimate (a token per 4 bytes) + max_tokens 10.
    const { app, upstream } = testApp(
      { defaultPolicy: { tokensPerMinute: 100, maxTokens: 10 } },
      { "POST /v1/chat/completions": ok },
    );
    const worst = () => Math.ceil(upstream.last()!.body!.length / 4) + 10;
    const first = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(first.headers.get("x-ratelimit-limit-tokens")).toBe("100");
    expect(first.headers.get("x-ratelimit-remaining-tokens")).toBe(String(100 - worst()));
    const second = await app.request("/v1/chat/completions", chatInit(CHAT));
    // The first settled at its 2 tokens; the second's worst case is held while it runs.
    expect(second.headers.get("x-ratelimit-remaining-tokens")).toBe(String(100 - 2 - worst()));
    let refused: Response | undefined;
    for (let i = 0; i < 50 && refused === undefined; i++) {
      const res = await app.request("/v1/chat/completions", chatInit(CHAT));
      if (res.status === 429) refused = res;
    }
    expect(refused?.status).toBe(429);
    const error = ((await refused!.json()) as Envelope).error;
    expect(error.code).toBe("tokens_rate_limit_exceeded");
    expect(error.message).toMatch(/up to \d+ tokens/);
    expect(Number(refused!.headers.get("x-ratelimit-remaining-tokens"))).toBeLessThan(worst());
    expect(refused!.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("asks inference for streamed usage, counts it, and hides it from a client that did not ask", async () => {
    const { app, upstream } = testApp(
      { defaultPolicy: { tokensPerMinute: 50, maxTokens: 5 } },
      { "POST /v1/chat/completions": () => sse([delta("a"), delta("b"), usage(40), "data: [DONE]\n\n"]) },
    );
    const res = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
    const text = await res.text();
    expect(JSON.parse(upstream.last()!.body!).stream_options).toEqual({ include_usage: true });
    expect(text).toBe(delta("a") + delta("b") + "data: [DONE]\n\n");
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(429);
  });

  it("keeps the usage chunk for a client that asked for it", async () => {
    const { app, upstream } = testApp(
      { defaultPolicy: { tokensPerMinute: 100, maxTokens: 10 } },
      { "POST /v1/chat/completions": () => sse([delta("a"), usage(4), "data: [DONE]\n\n"]) },
    );
    const body = { ...CHAT, stream: true, stream_options: { include_usage: true } };
    const text = await (await app.request("/v1/chat/completions", chatInit(body))).text();
    expect(text).toBe(delta("a") + usage(4) + "data: [DONE]\n\n");
    expect(JSON.parse(upstream.last()!.body!)).toEqual({ ...body, max_tokens: 10 });
  });

  it("does not touch stream_options when tokens are not metered", async () => {
    const { app, upstream } = testApp({}, { "POST /v1/chat/completions": () => sse([delta("a"), "data: [DONE]\n\n"]) });
    await (await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }))).text();
    expect(JSON.parse(upstream.last()!.body!)).not.toHaveProperty("stream_options");
  });
});

describe("n choices and the Responses API", () => {
  it("charges a request that ends without usage n times its token cap", async () => {
    const { app } = testApp(
      { defaultPolicy: { tokensPerMinute: 10_000 } },
      { "POST /v1/chat/completions": (call) => untilAborted(call.signal) },
    );
    const client = new AbortController();
    const pending = app.request(
      new Request("http://gw/v1/chat/completions", {
        ...chatInit({ ...CHAT, n: 3, max_tokens: 1000 }),
        signal: client.signal,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    client.abort();
    expect((await pending).status).toBe(499);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const remaining = Number(
      (await app.request("/v1/chat/completions", chatInit({ ...CHAT, max_tokens: 1 }))).headers.get(
        "x-ratelimit-remaining-tokens",
      ),
    );
    // The cap is the key's 256 (the gateway clamps max_tokens), three times.
    expect(remaining).toBeLessThanOrEqual(10_000 - 3 * 256);
    expect(remaining).toBeGreaterThan(10_000 - 4 * 256);
  });

  it("counts a Responses stream's usage from response.completed, without adding stream_options", async () => {
    const event = (type: string, fields: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;
    const completed = event("response.completed", {
      sequence_number: 2,
      response: { object: "response", usage: { input_tokens: 3, output_tokens: 7, total_tokens: 10 } },
    });
    const { app, upstream } = testApp(
      { defaultPolicy: { tokensPerMinute: 25, maxTokens: 5 } },
      {
        "POST /v1/responses": () =>
          sse([
            event("response.created", { sequence_number: 0 }),
            event("response.output_text.delta", { sequence_number: 1, delta: "a" }),
            completed,
          ]),
      },
    );
    const res = await app.request("/v1/responses", chatInit({ model: "m", input: "hi", stream: true }));
    // Relayed with its usage (the gateway adds store and previous_response_id to the response: see src/responses/).
    expect(await res.text()).toContain('"usage":{"input_tokens":3,"output_tokens":7,"total_tokens":10}');
    expect(JSON.parse(upstream.last()!.body!)).toEqual({
      model: "m",
      input: "hi",
      stream: true,
      max_output_tokens: 5,
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await app.request("/v1/responses", chatInit({ model: "m", input: "hi" }))).status).toBe(429);
  });
});

describe("concurrent streams", () => {
  it("refuses a stream beyond the key's limit until one ends", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { app } = testApp(
      { defaultPolicy: { concurrentStreams: 1 } },
      {
        "POST /v1/chat/completions": () =>
          new Response(
            new ReadableStream<Uint8Array>({
              async start(controller) {
                controller.enqueue(encoder.encode(delta("a")));
                await held;
                controller.close();
              },
            }),
            { headers: { "content-type": "text/event-stream" } },
          ),
      },
    );
    const open = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
    const reader = open.body!.getReader();
    await reader.read();
    const refused = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as Envelope).error.code).toBe("concurrent_streams_exceeded");
    expect(refused.headers.get("ratelimit-policy")).toBe('"streams";q=1;qu="concurrency"');
    // A JSON request is not a stream.
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).not.toBe(429);
    release();
    while (!(await reader.read()).done);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const again = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
    expect(again.status).toBe(200);
  });
});

describe("client address quotas", () => {
  const runtime = { remoteAddress: () => "198.51.100.7" };

  it("limits anonymous requests per client address", async () => {
    const { app } = testApp(
      { allowAnonymous: true, apiKeys: [], ipRequestsPerMinute: 2, runtime },
      { "POST /v1/chat/completions": ok },
    );
    const init = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(CHAT) };
    expect((await app.request("/v1/chat/completions", init)).status).toBe(200);
    const second = await app.request("/v1/chat/completions", init);
    expect(second.headers.get("ratelimit-policy")).toBe('"ip";q=2;w=60');
    const third = await app.request("/v1/chat/completions", init);
    expect(third.status).toBe(429);
  });

  it("answers 429 instead of 401 once an address has failed authentication too often", async () => {
    const { app } = testApp({ ipRequestsPerMinute: 3, runtime }, { "POST /v1/chat/completions": ok });
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (
          await app.request(
            "/v1/chat/completions",
            chatInit(CHAT, { authorization: `Bearer sk-guess-${i}-0123456789` }),
          )
        ).status,
      );
    expect(statuses).toEqual([401, 401, 401, 429]);
    // A valid key still works from that address.
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(200);
  });
});

it("the completion fixture reports usage (the token tests above rely on it)", () => {
  expect(COMPLETION.usage.total_tokens).toBe(2);
});
