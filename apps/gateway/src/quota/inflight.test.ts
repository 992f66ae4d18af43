import { describe, expect, it } from "vitest";
import { CHAT, chatInit, COMPLETION, KEY, sleep, testApp, type UpstreamCall } from "../../test/support/test-app.ts";
import { noMetrics, type GatewayMetrics, type RateLimitReason } from "../metrics/metrics.ts";
import { createQuotaStore } from "./quota-store.ts";

type Envelope = { error: { message: string; type: string; param: string | null; code: string | null } };
const LIGHT = "sk-light-0123456789abcdef";
const encoder = new TextEncoder();

/** A fake inference that holds every request until `open()`; `waiting` counts those it holds. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let waiting = 0;
  const answer = async (call: UpstreamCall) => {
    waiting++;
    try {
      await Promise.race([
        opened,
        new Promise((_, reject) => call.signal?.addEventListener("abort", () => reject(call.signal?.reason))),
      ]);
    } finally {
      waiting--;
    }
    return Response.json(COMPLETION);
  };
  return { answer, open: () => open(), waiting: () => waiting };
}

function rateLimitRecorder() {
  const reasons: RateLimitReason[] = [];
  const metrics: GatewayMetrics = { ...noMetrics, rateLimited: (reason) => reasons.push(reason) };
  return { reasons, metrics };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await sleep(2);
  expect(check()).toBe(true);
};

describe("requests in flight per key", () => {
  it("68 concurrent JSON requests (n: 2) from one key: 8 reach inference, 60 get their own 429; another key is served", async () => {
    const upstream = gate();
    const { reasons, metrics } = rateLimitRecorder();
    const { app, upstream: calls } = testApp(
      { apiKeys: [KEY, LIGHT], defaultPolicy: { concurrentRequests: 8 }, metrics },
      { "POST /v1/chat/completions": upstream.answer },
    );
    const refused: Response[] = [];
    const heavy = Array.from({ length: 68 }, () =>
      Promise.resolve(app.request("/v1/chat/completions", chatInit({ ...CHAT, n: 2, max_tokens: 4096 }))).then(
        (res) => {
          if (res.status === 429) refused.push(res);
          return res;
        },
      ),
    );
    // Every refusal comes back while the admitted 8 are still held by inference.
    await until(() => upstream.waiting() === 8 && refused.length === 60);
    expect(reasons).toHaveLength(60);
    const error = ((await refused[0]!.json()) as Envelope).error;
    expect(error).toMatchObject({ type: "rate_limit_error", code: "concurrent_requests_exceeded" });
    expect(error.message).toContain("8");
    expect(refused[0]!.headers.get("retry-after")).toBe("1");
    expect(refused[0]!.headers.get("ratelimit-policy")).toBe('"inflight";q=8;qu="concurrency"');
    expect(reasons.every((r) => r === "inflight")).toBe(true);

    // The light key is not behind the heavy key's backlog: its request reaches inference at once.
    const light = app.request("/v1/chat/completions", chatInit(CHAT, { authorization: `Bearer ${LIGHT}` }));
    await until(() => upstream.waiting() === 9);
    expect(calls.api()).toHaveLength(9);
    upstream.open();
    expect((await light).status).toBe(200);
    expect((await Promise.all(heavy)).filter((r) => r.status === 200)).toHaveLength(8);
  });

  it("gives the slot back when a JSON request ends, and after an upstream error", async () => {
    let status = 200;
    const { app } = testApp(
      { defaultPolicy: { concurrentRequests: 1 } },
      {
        "POST /v1/chat/completions": () =>
          status === 200
            ? Response.json(COMPLETION)
            : Response.json({ error: { message: "busy", type: "server_error", param: null, code: null } }, { status }),
      },
    );
    for (let i = 0; i < 3; i++) expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(200);
    status = 500;
    for (let i = 0; i < 3; i++) expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(500);
    status = 200;
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(200);
  });

  it("a stream holds its slot until it ends, a cut stream gives it back", async () => {
    let end!: () => void;
    const { app } = testApp(
      { defaultPolicy: { concurrentRequests: 1 } },
      {
        "POST /v1/chat/completions": (call) =>
          new Response(
            new ReadableStream<Uint8Array>({
              async start(controller) {
                controller.enqueue(encoder.encode('data: {"choices":[]}\n\n'));
                await new Promise<void>((resolve) => {
                  end = resolve;
                  call.signal?.addEventListener("abort", () => resolve());
                });
                controller.enqueue(encoder.encode("data: [DONE]\n\n"));
                controller.close();
              },
            }),
            { headers: { "content-type": "text/event-stream" } },
          ),
      },
    );
    const stream = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
    const reader = stream.body!.getReader();
    await reader.read();
    const refused = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as Envelope).error.code).toBe("concurrent_requests_exceeded");
    end();
    while (!(await reader.read()).done);
    await sleep(5);
    const again = await app.request("/v1/chat/completions", chatInit({ ...CHAT, stream: true }));
    expect(again.status).toBe(200);
    // The client cuts this one mid-stream: its slot comes back.
    const cutReader = again.body!.getReader();
    await cutReader.read();
    await cutReader.cancel();
    await sleep(5);
    expect((await app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(200);
  });

  it("is shared by every gateway on one store (a Redis in production), per key", async () => {
    const quotaStore = createQuotaStore();
    const upstream = gate();
    const routes = { "POST /v1/chat/completions": upstream.answer };
    const one = testApp({ apiKeys: [KEY, LIGHT], quotaStore, defaultPolicy: { concurrentRequests: 2 } }, routes);
    const two = testApp({ apiKeys: [KEY, LIGHT], quotaStore, defaultPolicy: { concurrentRequests: 2 } }, routes);
    const held = [
      one.app.request("/v1/chat/completions", chatInit(CHAT)),
      two.app.request("/v1/chat/completions", chatInit(CHAT)),
    ];
    await until(() => upstream.waiting() === 2);
    expect((await one.app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(429);
    expect((await two.app.request("/v1/chat/completions", chatInit(CHAT))).status).toBe(429);
    const light = two.app.request("/v1/chat/completions", chatInit(CHAT, { authorization: `Bearer ${LIGHT}` }));
    await until(() => upstream.waiting() === 3);
    upstream.open();
    expect((await Promise.all([...held, light])).map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it("0 is unlimited (an ops key)", async () => {
    const upstream = gate();
    const { app } = testApp(
      { defaultPolicy: { concurrentRequests: 0 } },
      { "POST /v1/chat/completions": upstream.answer },
    );
    const all = Array.from({ length: 20 }, () => app.request("/v1/chat/completions", chatInit(CHAT)));
    await until(() => upstream.waiting() === 20);
    upstream.open();
    expect((await Promise.all(all)).every((r) => r.status === 200)).toBe(true);
  });
});

describe("X-Slm-Principal", () => {
  it("tells inference whom a request is for: a hash per key, never the key or its id; not on other calls", async () => {
    const { app, upstream } = testApp(
      { apiKeys: [KEY, LIGHT], inferenceApiKey: "ik-internal-0123456789" },
      { "POST /v1/chat/completions": () => Response.json(COMPLETION) },
    );
    await app.request("/v1/chat/completions", chatInit(CHAT));
    await app.request("/v1/chat/completions", chatInit(CHAT));
    await app.request("/v1/chat/completions", chatInit(CHAT, { authorization: `Bearer ${LIGHT}` }));
    const tags = upstream.api().map((call) => call.headers.get("x-slm-principal"));
    expect(tags[0]).toMatch(/^[0-9a-f]{24}$/);
    expect(tags[1]).toBe(tags[0]);
    expect(tags[2]).toMatch(/^[0-9a-f]{24}$/);
    expect(tags[2]).not.toBe(tags[0]);
    for (const tag of tags) {
      expect(KEY).not.toContain(tag!);
      expect(LIGHT).not.toContain(tag!);
    }
    for (const call of upstream.calls.filter((c) => c.path === "/v1/models"))
      expect(call.headers.get("x-slm-principal")).toBeNull();
    // Every gateway of a deployment (same internal key) sends the same tag for the same key.
    const other = testApp(
      { apiKeys: [KEY, LIGHT], inferenceApiKey: "ik-internal-0123456789" },
      { "POST /v1/chat/completions": () => Response.json(COMPLETION) },
    );
    await other.app.request("/v1/chat/completions", chatInit(CHAT));
    expect(other.upstream.last()!.headers.get("x-slm-principal")).toBe(tags[0]);
  });

  it("a client cannot set it", async () => {
    const { app, upstream } = testApp({}, { "POST /v1/chat/completions": () => Response.json(COMPLETION) });
    await app.request("/v1/chat/completions", chatInit(CHAT, { "x-slm-principal": "forged" }));
    expect(upstream.last()!.headers.get("x-slm-principal")).not.toBe("forged");
  });
});
