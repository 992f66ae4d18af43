import { describe, expect, it } from "vitest";
import { CHAT, chatInit, COMPLETION, sleep, testApp, type UpstreamCall } from "../../test/support/test-app.ts";

type Envelope = { error: { message: string; type: string; param: string | null; code: string | null } };
const encoder = new TextEncoder();

/** What a request may cost at most, from the body inference received: its prompt estimate plus max_tokens x n. */
const worstCase = (call: UpstreamCall) => {
  const json = JSON.parse(call.body!) as { max_tokens: number; n?: number };
  return Math.ceil(call.body!.length / 4) + json.max_tokens * (json.n ?? 1);
};

/** An answer that used every token it was allowed (usage = the worst case). */
const fullAnswer = (call: UpstreamCall) =>
  Response.json({ ...COMPLETION, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: worstCase(call) } });

describe("token admission", () => {
  it("a burst of 40 parallel requests against 300 tokens a minute (maxTokens 100) admits at most 3", async () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    let served = 0;
    const { app, upstream } = testApp(
      { defaultPolicy: { tokensPerMinute: 300, maxTokens: 100 } },
      {
        "POST /v1/chat/completions": async (call) => {
          await opened; // all of them in flight at once
          served += worstCase(call);
          return fullAnswer(call);
        },
      },
    );
    const statuses: number[] = [];
    const burst = Array.from({ length: 40 }, () =>
      Promise.resolve(app.request("/v1/chat/completions", chatInit({ ...CHAT, max_tokens: 4096 }))).then((res) => {
        statuses.push(res.status);
        return res;
      }),
    );
    for (let i = 0; i < 500 && upstream.api().length + statuses.length < 40; i++) await sleep(2);
    open();
    const responses = await Promise.all(burst);
    const admitted = upstream.api().length;
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(admitted).toBeLessThanOrEqual(3);
    expect(served).toBeLessThanOrEqual(300);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(40 - admitted);
    const error = ((await refused[0]!.json()) as Envelope).error;
    expect(error).toMatchObject({ type: "rate_limit_error", code: "tokens_rate_limit_exceeded" });
    expect(refused[0]!.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(refused[0]!.headers.get("x-ratelimit-limit-tokens")).toBe("300");
  });

  it("settles at the usage: the unused part of each reservation comes back", async () => {
    const { app, upstream } = testApp(
      { defaultPolicy: { tokensPerMinute: 300, maxTokens: 100 } },
      { "POST /v1/chat/completions": () => Response.json(COMPLETION) }, // 2 tokens each
    );
    for (let i = 0; i < 10; i++) expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(200);
    const last = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(last.headers.get("x-ratelimit-remaining-tokens")).toBe(String(300 - 10 * 2 - worstCase(upstream.last()!)));
  });

  it("gives the whole reservation back when a later limit refuses the request", async () => {
    let end!: () => void;
    const { app } = testApp(
      { defaultPolicy: { tokensPerMinute: 1000, maxTokens: 100, concurrentStreams: 1 } },
      {
        "POST /v1/chat/completions": (call) =>
          call.body!.includes('"stream":true')
            ? new Response(
                new ReadableStream<Uint8Array>({
                  async start(controller) {
                    controller.enqueue(encoder.encode('data: {"choices":[]}\n\n'));
                    await new Promise<void>((resolve) => (end = resolve));
                    controller.close();
                  },
                }),
                { headers: { "content-type": "text/event-stream" } },
              )
            : Response.json(COMPLETION),
      },
    );
    const stream = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
    const reader = stream.body!.getReader();
    await reader.read();
    // Ten more streams, each reserving ~120 tokens, each refused by the stream cap: none keeps its reservation.
    for (let i = 0; i < 10; i++) {
      const refused = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
      expect(((await refused.json()) as Envelope).error.code).toBe("concurrent_streams_exceeded");
    }
    await sleep(5);
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(200);
    end();
    await reader.cancel();
  });

  it("refuses a request that could never fit, naming the limit", async () => {
    const { app, upstream } = testApp(
      { defaultPolicy: { tokensPerMinute: 50, maxTokens: 100 } },
      { "POST /v1/chat/completions": () => Response.json(COMPLETION) },
    );
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(res.status).toBe(429);
    const error = ((await res.json()) as Envelope).error;
    expect(error.code).toBe("tokens_rate_limit_exceeded");
    expect(error.message).toContain("limit of 50 tokens per minute");
    expect(upstream.api()).toHaveLength(0);
    // A request that asks for fewer tokens fits.
    expect((await app.request("/v1/chat/completions", chatInit({ ...CHAT, max_tokens: 5 }))).status).toBe(200);
  });

  it("counts n: the cap times the choices is reserved", async () => {
    const { app, upstream } = testApp(
      { defaultPolicy: { tokensPerMinute: 300, maxTokens: 100 } },
      { "POST /v1/chat/completions": () => Response.json(COMPLETION) },
    );
    expect((await app.request("/v1/chat/completions", chatInit({ ...CHAT, n: 3 }))).status).toBe(429);
    expect(upstream.api()).toHaveLength(0);
    const two = await app.request("/v1/chat/completions", chatInit({ ...CHAT, n: 2 }));
    expect(two.status).toBe(200);
    expect(two.headers.get("x-ratelimit-remaining-tokens")).toBe(String(300 - worstCase(upstream.last()!)));
  });
});
