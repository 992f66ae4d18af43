import { describe, expect, it } from "vitest";
import { clampTokens } from "./shape.ts";
import { CHAT, chatInit, ok, testApp } from "./test-utils.ts";

const routes = { "POST /v1/chat/completions": ok };
type Envelope = { error: { message: string; type: string; param: string | null; code: string | null } };

describe("request shaping", () => {
  it("answers 413 in the envelope for a body over the limit (Content-Length)", async () => {
    const { app, upstream } = testApp({}, routes);
    const big = { ...CHAT, messages: [{ role: "user", content: "x".repeat(5000) }] };
    const res = await app.request("/v1/chat/completions", chatInit(big));
    expect(res.status).toBe(413);
    const body = (await res.json()) as Envelope;
    expect(body.error).toMatchObject({ type: "invalid_request_error", code: "request_too_large", param: null });
    expect(body.error.message).toContain("4096");
    expect(upstream.calls).toHaveLength(0);
  });

  it("answers 413 for a streamed body without Content-Length", async () => {
    const { app } = testApp({}, routes);
    const chunk = new TextEncoder().encode("x".repeat(1000));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 10) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const init = { ...chatInit(""), body, duplex: "half" } as RequestInit;
    const res = await app.request("/v1/chat/completions", init);
    expect(res.status).toBe(413);
  });

  it("answers 400 invalid_json for malformed JSON, without quoting it", async () => {
    const { app, upstream } = testApp({}, routes);
    const res = await app.request("/v1/chat/completions", chatInit('{"messages": [secret-value'));
    expect(res.status).toBe(400);
    const body = (await res.json()) as Envelope;
    expect(body).toEqual({
      error: { message: "Request body is not valid JSON.", type: "invalid_request_error", param: null, code: "invalid_json" },
    });
    expect(upstream.calls).toHaveLength(0);
  });

  it.each([["[]"], ['"text"'], ["null"], ["42"]])("answers 400 for a body that is not an object: %s", async (raw) => {
    const { app } = testApp({}, routes);
    const res = await app.request("/v1/chat/completions", chatInit(raw));
    expect(res.status).toBe(400);
    expect(((await res.json()) as Envelope).error.message).toBe("Request body must be a JSON object.");
  });

  it("answers 400 naming the offending field in param, without echoing values", async () => {
    const { app, upstream } = testApp({}, routes);
    const res = await app.request(
      "/v1/chat/completions",
      chatInit({ messages: [{ role: "hf_secretrole", content: "hi" }], temperature: "very-secret-temp" }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as Envelope;
    expect(body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_request", param: "messages.0.role" });
    expect(body.error.message).toContain("temperature");
    expect(body.error.message).not.toContain("hf_secretrole");
    expect(body.error.message).not.toContain("very-secret-temp");
    expect(upstream.calls).toHaveLength(0);
  });

  it.each([
    [{ ...CHAT, messages: [] }, "messages"],
    [{ model: "m" }, "messages"],
    [{ ...CHAT, max_tokens: 0 }, "max_tokens"],
    [{ ...CHAT, max_tokens: 1.5 }, "max_tokens"],
    [{ ...CHAT, tools: [{ type: "function" }] }, "tools"],
    [{ ...CHAT, n: 2 }, "n"],
  ])("rejects %j with param %s", async (body, param) => {
    const { app } = testApp({}, routes);
    const res = await app.request("/v1/chat/completions", chatInit(body));
    expect(res.status).toBe(400);
    expect(((await res.json()) as Envelope).error.param).toBe(param);
  });

  it("clamps max_tokens to the limit, as inference receives it", async () => {
    const { app, upstream } = testApp({}, routes);
    const res = await app.request("/v1/chat/completions", chatInit({ ...CHAT, max_tokens: 100_000 }));
    expect(res.status).toBe(200);
    expect(JSON.parse(upstream.last()!.body!)).toEqual({ ...CHAT, max_tokens: 256 });
  });

  it("fills max_tokens with the limit when absent", async () => {
    const { app, upstream } = testApp({}, routes);
    await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(JSON.parse(upstream.last()!.body!)).toEqual({ ...CHAT, max_tokens: 256 });
  });

  it("keeps a smaller max_completion_tokens and adds nothing", async () => {
    const { app, upstream } = testApp({}, routes);
    await app.request("/v1/chat/completions", chatInit({ ...CHAT, max_completion_tokens: 10 }));
    expect(JSON.parse(upstream.last()!.body!)).toEqual({ ...CHAT, max_completion_tokens: 10 });
  });

  it("forwards the caller's JSON, not the schema's output", async () => {
    const { app, upstream } = testApp({}, routes);
    const body = { ...CHAT, max_tokens: 5, frequency_penalty: 0.5, stream: true, stream_options: { include_usage: true } };
    await app.request("/v1/chat/completions", chatInit(body));
    const sent = JSON.parse(upstream.last()!.body!);
    expect(sent).toEqual(body);
    expect(sent).not.toHaveProperty("maxTokens");
    expect(upstream.last()!.headers.get("content-type")).toBe("application/json");
  });
});

describe("clampTokens", () => {
  it("caps both fields, fills max_tokens when neither is a number, and does not mutate", () => {
    const input = { max_tokens: 50, max_completion_tokens: 500 };
    expect(clampTokens(input, 100)).toEqual({ max_tokens: 50, max_completion_tokens: 100 });
    expect(input).toEqual({ max_tokens: 50, max_completion_tokens: 500 });
    expect(clampTokens({ max_tokens: null }, 100)).toEqual({ max_tokens: 100 });
    expect(clampTokens({}, 100)).toEqual({ max_tokens: 100 });
  });
});
