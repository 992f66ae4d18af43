import { describe, expect, it } from "vitest";
import { GatewayError } from "./gateway-error.ts";
import { streamChat, type ChatStreamEvent } from "./stream-chat.ts";

/** A fetch that answers with these body pieces, split exactly there (as the network may split them). */
function fakeFetch(status: number, pieces: Array<string | Uint8Array>, headers: Record<string, string> = {}) {
  const seen: Array<{ url: string; init: RequestInit }> = [];
  const encoder = new TextEncoder();
  const fetch = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    seen.push({ url: String(url), init: init ?? {} });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of pieces) controller.enqueue(typeof piece === "string" ? encoder.encode(piece) : piece);
        controller.close();
      },
    });
    return new Response(body, { status, headers: { "content-type": "text/event-stream", ...headers } });
  };
  return { fetch: fetch as typeof globalThis.fetch, seen };
}

const chunk = (delta: object, finish: string | null = null, usage?: object) =>
  `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;

async function collect(events: AsyncIterable<ChatStreamEvent>): Promise<ChatStreamEvent[]> {
  const out: ChatStreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

const request = { model: "tiny-chat", messages: [{ role: "user" as const, content: "hi" }], max_tokens: 8 };

describe("streamChat", () => {
  it("yields tool-call deltas as OpenAI sends them: index, id and name first, then argument fragments", async () => {
    const body =
      chunk({ role: "assistant", content: "" }) +
      chunk({
        tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }],
      }) +
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }) +
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }) +
      chunk({}, "tool_calls") +
      "data: [DONE]\n\n";
    const { fetch } = fakeFetch(200, [body]);
    expect(await collect(streamChat({ apiKey: "sk-test-key-123456", request, fetch }))).toEqual([
      { type: "tool_call", index: 0, id: "call_1", name: "get_weather", arguments: "" },
      { type: "tool_call", index: 0, arguments: '{"city":' },
      { type: "tool_call", index: 0, arguments: '"Paris"}' },
      { type: "finish", reason: "tool_calls" },
    ]);
  });

  it("posts a streamed request with the key and yields text, finish and usage however the bytes are split", async () => {
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    const body =
      chunk({ role: "assistant", content: "" }) +
      chunk({ content: "Hé" }) +
      chunk({ content: "llo" }) +
      chunk({}, "length") +
      chunk({}, null, usage) +
      "data: [DONE]\n\n";
    const bytes = new TextEncoder().encode(body);
    const cut = body.indexOf("é") + 1; // between the two bytes of "é" (all before it is ASCII)
    const pieces = [
      bytes.subarray(0, 7),
      bytes.subarray(7, cut),
      bytes.subarray(cut, cut + 1),
      bytes.subarray(cut + 1),
    ];
    const { fetch, seen } = fakeFetch(200, pieces);

    const events = await collect(streamChat({ apiKey: "sk-test-key-123456", request, fetch, baseUrl: "http://gw" }));

    expect(events).toEqual([
      { type: "text", text: "Hé" },
      { type: "text", text: "llo" },
      { type: "finish", reason: "length" },
      { type: "usage", usage },
    ]);
    expect(seen[0]?.url).toBe("http://gw/v1/chat/completions");
    expect(new Headers(seen[0]?.init.headers).get("authorization")).toBe("Bearer sk-test-key-123456");
    expect(JSON.parse(String(seen[0]?.init.body))).toEqual({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("turns an error answer into a GatewayError with the envelope's message, code and Retry-After", async () => {
    const envelope = {
      error: { message: "Too many requests.", type: "rate_limit_error", param: null, code: "rate_limited" },
    };
    const { fetch } = fakeFetch(429, [JSON.stringify(envelope)], {
      "content-type": "application/json",
      "retry-after": "7",
    });
    const error = await collect(streamChat({ apiKey: "k", request, fetch })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ status: 429, code: "rate_limited", message: "Too many requests.", retryAfter: 7 });
  });

  it("throws the envelope of an `event: error` that breaks a started stream, after the text before it", async () => {
    const envelope = {
      error: {
        message: "The inference service closed the stream unexpectedly.",
        type: "server_error",
        param: null,
        code: "upstream_error",
      },
    };
    const { fetch } = fakeFetch(200, [
      chunk({ content: "Once" }),
      `event: error\ndata: ${JSON.stringify(envelope)}\n\n`,
    ]);
    const seen: ChatStreamEvent[] = [];
    const error = await (async () => {
      for await (const event of streamChat({ apiKey: "k", request, fetch })) seen.push(event);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ type: "text", text: "Once" }]);
    expect(error).toMatchObject({ name: "GatewayError", status: 200, code: "upstream_error" });
  });

  it("rejects with an AbortError when the signal is aborted mid-stream", async () => {
    const controller = new AbortController();
    let pull = 0;
    const fetch = (async (_url: string, init?: RequestInit) => {
      const signal = init?.signal ?? undefined;
      const body = new ReadableStream<Uint8Array>({
        pull(ctrl) {
          pull += 1;
          if (signal?.aborted) return ctrl.error(signal.reason);
          ctrl.enqueue(new TextEncoder().encode(chunk({ content: `t${pull}` })));
          return new Promise((r) => setTimeout(r, 5));
        },
      });
      signal?.addEventListener("abort", () => body.cancel(signal.reason).catch(() => {}));
      return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
    }) as unknown as typeof globalThis.fetch;
    const texts: string[] = [];
    const error = await (async () => {
      for await (const event of streamChat({ apiKey: "k", request, fetch, signal: controller.signal })) {
        if (event.type === "text") texts.push(event.text);
        if (texts.length === 3) controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(controller.signal.aborted).toBe(true);
    expect(error).toBeInstanceOf(Error);
    expect(texts.length).toBeGreaterThanOrEqual(3);
    expect(texts.length).toBeLessThan(10);
  });
});
