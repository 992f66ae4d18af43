import { describe, expect, it } from "vitest";
import { CHAT, chatInit, KEY, ok, testApp } from "../../test/support/test-app.ts";
import { clampTokens } from "./shape.ts";

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
      error: {
        message: "Request body is not valid JSON.",
        type: "invalid_request_error",
        param: null,
        code: "invalid_json",
      },
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
    expect(body.error).toMatchObject({
      type: "invalid_request_error",
      code: "invalid_request",
      param: "messages.0.role",
    });
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
    [{ ...CHAT, tools: [{ type: "function" }] }, "tools.0.function"],
    [{ ...CHAT, tools: [{ type: "retrieval", function: { name: "f" } }] }, "tools.0.type"],
    [{ ...CHAT, tool_choice: "required" }, "tool_choice"],
    [{ ...CHAT, chat_template_kwargs: { messages: [] } }, "chat_template_kwargs"],
    [{ ...CHAT, chat_template_kwargs: "enable_thinking" }, "chat_template_kwargs"],
    [{ ...CHAT, reasoning_format: "hidden" }, "reasoning_format"],
    [{ ...CHAT, n: 0 }, "n"],
  ])("rejects %j with param %s", async (body, param) => {
    const { app } = testApp({}, routes);
    const res = await app.request("/v1/chat/completions", chatInit(body));
    expect(res.status).toBe(400);
    expect(((await res.json()) as Envelope).error.param).toBe(param);
  });

  it("caps n at the key's maxChoices with a 400 naming n, and relays n within it", async () => {
    const { app, upstream } = testApp({ defaultPolicy: { maxChoices: 2 } }, routes);
    const refused = await app.request("/v1/chat/completions", chatInit({ ...CHAT, n: 3 }));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as Envelope).error).toMatchObject({ param: "n", code: "too_many_choices" });
    expect(upstream.api()).toHaveLength(0);
    expect((await app.request("/v1/chat/completions", chatInit({ ...CHAT, n: 2 }))).status).toBe(200);
    expect(JSON.parse(upstream.last()!.body!)).toMatchObject({ n: 2 });
  });

  it("shapes /v1/responses with its schema: max_output_tokens clamped, conversations and non-function tools refused", async () => {
    const { app, upstream } = testApp({}, { "POST /v1/responses": ok });
    const tools = [{ type: "function", name: "get_weather", parameters: { type: "object" } }];
    const res = await app.request("/v1/responses", chatInit({ input: "hi", max_output_tokens: 100_000, tools }));
    expect(res.status).toBe(200);
    expect(JSON.parse(upstream.last()!.body!)).toEqual({ model: "m", input: "hi", max_output_tokens: 256, tools });
    for (const [body, param] of [
      // previous_response_id is answered from stored responses (src/responses/), conversation objects are not.
      [{ input: "hi", conversation: "conv_1" }, "conversation"],
      [{ input: "hi", tools: [{ type: "web_search" }] }, "tools.0.type"],
      [{ input: [] }, "input"],
    ] as const) {
      const refused = await app.request("/v1/responses", chatInit(body));
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as Envelope).error.param).toBe(param);
    }
    expect(upstream.api()).toHaveLength(1);
  });

  it("relays the chat template's fields to inference as the client wrote them", async () => {
    const { app, upstream } = testApp({}, routes);
    const tools = [
      {
        type: "function",
        function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
      },
    ];
    const body = {
      ...CHAT,
      max_tokens: 5,
      tools,
      tool_choice: "auto",
      chat_template_kwargs: { enable_thinking: false },
      reasoning_format: "none",
    };
    const res = await app.request("/v1/chat/completions", chatInit(body));
    expect(res.status).toBe(200);
    expect(JSON.parse(upstream.last()!.body!)).toEqual(body);
  });

  it("relays tool calling as the client wrote it: tool_choice forms, parallel_tool_calls, calls and results in the history", async () => {
    const { app, upstream } = testApp({}, routes);
    const tools = [
      {
        type: "function",
        function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
      },
    ];
    const messages = [
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "21 C" },
    ];
    for (const tool_choice of ["required", { type: "function", function: { name: "get_weather" } }]) {
      const body = { ...CHAT, max_tokens: 5, messages, tools, tool_choice, parallel_tool_calls: false };
      const res = await app.request("/v1/chat/completions", chatInit(body));
      expect(res.status).toBe(200);
      expect(JSON.parse(upstream.last()!.body!)).toEqual(body);
    }
  });

  it.each([
    [{ tools: [{ type: "code_interpreter" }] }, "tools.0.type"],
    [
      {
        tools: [{ type: "function", function: { name: "f" } }],
        tool_choice: { type: "function", function: { name: "g" } },
      },
      "tool_choice",
    ],
    [{ tool_choice: "required" }, "tool_choice"],
    [{ messages: [{ role: "tool", content: "21 C" }] }, "messages.0"],
  ])("answers 400 in the envelope, before inference, for tool fields OpenAI refuses: %j", async (fields, param) => {
    const { app, upstream } = testApp({}, routes);
    const res = await app.request("/v1/chat/completions", chatInit({ ...CHAT, ...fields }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as Envelope).error).toMatchObject({ type: "invalid_request_error", param });
    expect(upstream.calls).toHaveLength(0);
  });

  it("counts tool schemas toward the body limit", async () => {
    const { app, upstream } = testApp({}, routes);
    const properties = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`field_${i}`, { type: "string" }]));
    const tools = [{ type: "function", function: { name: "big", parameters: { type: "object", properties } } }];
    const res = await app.request("/v1/chat/completions", chatInit({ ...CHAT, tools }));
    expect(res.status).toBe(413);
    expect(upstream.calls).toHaveLength(0);
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
    const body = {
      ...CHAT,
      max_tokens: 5,
      frequency_penalty: 0.5,
      stream: true,
      stream_options: { include_usage: true },
    };
    await app.request("/v1/chat/completions", chatInit(body));
    const sent = JSON.parse(upstream.last()!.body!);
    expect(sent).toEqual(body);
    expect(sent).not.toHaveProperty("maxTokens");
    expect(upstream.last()!.headers.get("content-type")).toBe("application/json");
  });
});

describe("clampTokens", () => {
  it("caps every field, fills the first when none is a number, and says whether it changed anything", () => {
    const fields = ["max_tokens", "max_completion_tokens"];
    const input: Record<string, unknown> = { max_tokens: 50, max_completion_tokens: 500 };
    expect(clampTokens(input, fields, 100)).toBe(true);
    expect(input).toEqual({ max_tokens: 50, max_completion_tokens: 100 });
    const low: Record<string, unknown> = { max_tokens: 50 };
    expect(clampTokens(low, fields, 100)).toBe(false);
    const nulled: Record<string, unknown> = { max_tokens: null };
    expect(clampTokens(nulled, fields, 100)).toBe(true);
    expect(nulled).toEqual({ max_tokens: 100 });
    const none: Record<string, unknown> = {};
    clampTokens(none, fields, 100);
    expect(none).toEqual({ max_tokens: 100 });
    const embeddings: Record<string, unknown> = {};
    expect(clampTokens(embeddings, [], 100)).toBe(false);
    expect(embeddings).toEqual({});
  });
});

describe("request shaping: fields, models, encodings, other routes", () => {
  it("drops fields the API does not define before forwarding", async () => {
    const { app, upstream } = testApp({}, routes);
    await app.request(
      "/v1/chat/completions",
      chatInit({ ...CHAT, max_tokens: 5, n_threads: 64, slot_id: 3, grammar: "root ::= x" }),
    );
    expect(JSON.parse(upstream.last()!.body!)).toEqual({ ...CHAT, max_tokens: 5 });
  });

  it("forwards a conforming request byte for byte", async () => {
    const { app, upstream } = testApp({}, routes);
    const raw = '{"model":"m","messages":[{"role":"user","content":"hi"}],   "max_tokens":5}';
    await app.request("/v1/chat/completions", chatInit(raw));
    expect(upstream.last()!.body).toBe(raw);
  });

  it("answers 400 invalid_encoding for a body that is not UTF-8", async () => {
    const { app, upstream } = testApp({}, routes);
    const bytes = new Uint8Array([
      ...new TextEncoder().encode('{"model":"m","messages":[{"role":"user","content":"'),
      0xff,
      0xfe,
      ...new TextEncoder().encode('"}]}'),
    ]);
    const res = await app.request("/v1/chat/completions", { ...chatInit(""), body: bytes });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Envelope).error.code).toBe("invalid_encoding");
    expect(upstream.api()).toHaveLength(0);
  });

  it("fills in the first model the key may use when none is given", async () => {
    const { app, upstream } = testApp({}, routes);
    await app.request("/v1/chat/completions", chatInit({ messages: CHAT.messages }));
    expect(JSON.parse(upstream.last()!.body!).model).toBe("m");
  });

  it.each([["not-served"], ["m"]])(
    "answers 404 model_not_found for a model not served or not allowed (%s)",
    async (model) => {
      const { app, upstream } = testApp({ defaultPolicy: { models: ["other"] } }, routes);
      const res = await app.request("/v1/chat/completions", chatInit({ ...CHAT, model }));
      expect(res.status).toBe(404);
      expect(((await res.json()) as Envelope).error).toMatchObject({
        code: "model_not_found",
        param: "model",
        type: "invalid_request_error",
      });
      expect(upstream.api()).toHaveLength(0);
    },
  );

  it("lists only the models the key may use", async () => {
    const two = {
      object: "list",
      data: [
        { id: "m", object: "model", created: 1, owned_by: "x" },
        { id: "n", object: "model", created: 1, owned_by: "x" },
      ],
    };
    const { app } = testApp({ defaultPolicy: { models: ["n"] } }, { "GET /v1/models": () => Response.json(two) });
    const res = await app.request("/v1/models", { headers: { authorization: `Bearer ${KEY}` } });
    expect(((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(["n"]);
  });

  it("validates and clamps /v1/completions, filling OpenAI's default of 16 tokens", async () => {
    const { app, upstream } = testApp({}, { "POST /v1/completions": ok });
    await app.request("/v1/completions", chatInit({ model: "m", prompt: "Once" }));
    expect(JSON.parse(upstream.last()!.body!)).toEqual({ model: "m", prompt: "Once", max_tokens: 16 });
    await app.request("/v1/completions", chatInit({ model: "m", prompt: "Once", max_tokens: 9999 }));
    expect(JSON.parse(upstream.last()!.body!).max_tokens).toBe(256);
    const bad = await app.request("/v1/completions", chatInit({ model: "m", prompt: 42 }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Envelope).error.param).toBe("prompt");
  });

  it("validates /v1/embeddings without adding token fields", async () => {
    const { app, upstream } = testApp(
      {},
      {
        "POST /v1/embeddings": () =>
          Response.json({ object: "list", data: [], model: "m", usage: { prompt_tokens: 1, total_tokens: 1 } }),
      },
    );
    expect((await app.request("/v1/embeddings", chatInit({ model: "m", input: "hello" }))).status).toBe(200);
    expect(JSON.parse(upstream.last()!.body!)).toEqual({ model: "m", input: "hello" });
    const bad = await app.request("/v1/embeddings", chatInit({ model: "m", input: [] }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Envelope).error.param).toBe("input");
  });
});

describe("deep JSON bodies", () => {
  // 20,000 nested arrays: JSON.parse copes, JSON.stringify and recursive validators throw a RangeError.
  const deep = `${"[".repeat(20_000)}0${"]".repeat(20_000)}`;
  const tools = `[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":${deep}}}}}]`;
  const bodies = {
    "tool parameters": `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":${tools}}`,
    chat_template_kwargs: `{"model":"m","messages":[{"role":"user","content":"hi"}],"chat_template_kwargs":{"x":${deep}}}`,
    "Responses tool parameters": `{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":{"x":${deep}}}]}`,
  };
  const limits = { maxBodyBytes: 1 << 20 };
  const routesFor = { "POST /v1/chat/completions": ok, "POST /v1/responses": ok };
  const path = (name: string) => (name.startsWith("Responses") ? "/v1/responses" : "/v1/chat/completions");

  it.each(Object.entries(bodies))(
    "answers 400 json_too_deep naming the limit for 20,000-deep %s",
    async (name, body) => {
      const { app, upstream } = testApp({ limits }, routesFor);
      const res = await app.request(path(name), chatInit(body));
      expect(res.status).toBe(400);
      const error = ((await res.json()) as Envelope).error;
      expect(error).toMatchObject({ type: "invalid_request_error", code: "json_too_deep", param: null });
      expect(error.message).toContain("64 levels");
      expect(upstream.api()).toHaveLength(0);
    },
  );

  it.each(Object.entries(bodies))(
    "with a body limit beyond it, the shared schema still answers 400 for %s",
    async (name, body) => {
      const { app, upstream } = testApp({ limits: { ...limits, maxJsonDepth: 100_000 } }, routesFor);
      const res = await app.request(path(name), chatInit(body));
      expect(res.status).toBe(400);
      const error = ((await res.json()) as Envelope).error;
      expect(error.code).toBe("invalid_request");
      expect(error.message).toContain("at most 64 levels");
      expect(upstream.api()).toHaveLength(0);
    },
  );

  it("keeps ordinary nesting, strings full of brackets included", async () => {
    const { app, upstream } = testApp({ limits: { maxBodyBytes: 1 << 20, maxJsonDepth: 8 } }, routesFor);
    const content = "[{".repeat(500);
    const res = await app.request(
      "/v1/chat/completions",
      chatInit({ ...CHAT, messages: [{ role: "user", content }], chat_template_kwargs: { a: [[1]] } }),
    );
    expect(res.status).toBe(200);
    expect(upstream.api()).toHaveLength(1);
    const tooDeep = await app.request(
      "/v1/chat/completions",
      chatInit({ ...CHAT, chat_template_kwargs: { a: [[[[[[[1]]]]]]] } }),
    );
    expect(tooDeep.status).toBe(400);
    expect(((await tooDeep.json()) as Envelope).error.message).toContain("8 levels");
  });
});
