import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { startStack, type Stack } from "@slm/testkit";

/**
 * The product end to end, as real processes over real HTTP: fake Hub (private repo + token) -> inference -> gateway,
 * with the official openai client as the public client.
 */
let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

/** What must never reach a public client. */
function assertNoSecrets(text: string) {
  expect(text).not.toContain(stack.hubToken);
  expect(text).not.toContain(stack.repo);
  expect(text).not.toContain(stack.hub.url);
  expect(text).not.toContain(stack.hub.cdnUrl);
  expect(text).not.toContain(stack.inferenceUrl);
  expect(text).not.toContain(stack.inferenceKey);
}

describe("fake Hub + inference + gateway", () => {
  it("lists the served model under its public name", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["tiny-chat"]);
    assertNoSecrets(JSON.stringify(models.data));
  });

  it("streams a chat completion chunk by chunk, ending with usage, equal to the JSON answer", async () => {
    const request = {
      model: "tiny-chat",
      messages: [{ role: "user" as const, content: "Tell me a story" }],
      max_tokens: 12,
      temperature: 0,
    };
    const stream = await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) pieces.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
      assertNoSecrets(JSON.stringify(chunk));
    }
    expect(pieces.length).toBeGreaterThan(3);
    expect(finish).toBe("length");
    expect(usage).toMatchObject({ completion_tokens: 12 });
    expect(usage!.prompt_tokens).toBeGreaterThan(0);
    expect(usage!.total_tokens).toBe(usage!.prompt_tokens + 12);

    const json = await client.chat.completions.create(request);
    expect(json.choices[0]?.message.content).toBe(pieces.join(""));
    // The same prompt again: its slot holds it, so all but the last token are found cached.
    expect(json.usage).toEqual({ ...usage, prompt_tokens_details: { cached_tokens: usage!.prompt_tokens - 1 } });
    expect(json.model).toBe("tiny-chat");
    assertNoSecrets(JSON.stringify(json));
  });

  it("answers the Responses API through the gateway, JSON and stream alike, with usage", async () => {
    const request = {
      model: "tiny-chat",
      instructions: "Be brief.",
      input: "Tell me a story",
      max_output_tokens: 10,
      temperature: 0,
    };
    const json = await client.responses.create(request);
    expect(json.output_text.length).toBeGreaterThan(0);
    expect(json.usage?.output_tokens).toBe(10);
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of await client.responses.create({ ...request, stream: true })) {
      events.push(event);
      assertNoSecrets(JSON.stringify(event));
    }
    expect(events[0]?.type).toBe("response.created");
    expect(events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : [])).join("")).toBe(
      json.output_text,
    );
    const last = events.at(-1) as OpenAI.Responses.ResponseIncompleteEvent;
    expect(last.type).toBe("response.incomplete");
    expect(last.response.usage).toEqual({
      ...json.usage,
      input_tokens_details: { cached_tokens: json.usage!.input_tokens - 1 },
    });
    assertNoSecrets(JSON.stringify(json));
  });

  it("relays n choices with logprobs through the gateway", async () => {
    const answer = await client.chat.completions.create({
      model: "tiny-chat",
      messages: [{ role: "user", content: "Tell me a story" }],
      max_tokens: 6,
      temperature: 0,
      n: 2,
      logprobs: true,
      top_logprobs: 2,
    });
    expect(answer.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(answer.usage?.completion_tokens).toBe(12);
    for (const choice of answer.choices) expect(choice.logprobs?.content).toHaveLength(6);
  });

  it("relays tool calls: a forced call in JSON, the same call streamed through the gateway, then its result", async () => {
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "lookup_order",
          parameters: {
            type: "object",
            properties: { order_id: { type: "integer" } },
            required: ["order_id"],
            additionalProperties: false,
          },
        },
      },
    ];
    const messages = [{ role: "user" as const, content: "Where is my order?" }];
    const request = {
      model: "tiny-chat",
      messages,
      tools,
      tool_choice: "required" as const,
      parallel_tool_calls: false,
      temperature: 0,
      max_tokens: 200,
    };
    const json = await client.chat.completions.create(request);
    const call = json.choices[0]!.message.tool_calls?.[0];
    expect(json.choices[0]!.finish_reason).toBe("tool_calls");
    expect(call?.type === "function" && call.function.name).toBe("lookup_order");
    const args = call?.type === "function" ? (JSON.parse(call.function.arguments) as Record<string, unknown>) : {};
    expect(Object.keys(args)).toEqual(["order_id"]);
    expect(Number.isInteger(args["order_id"])).toBe(true);

    // Streamed through the gateway (which meters it and strips the usage chunk it added): the same call.
    const streamed = await client.chat.completions.stream(request).finalChatCompletion();
    const summary = (m: OpenAI.ChatCompletionMessage) =>
      m.tool_calls?.map((c) => (c.type === "function" ? [c.function.name, c.function.arguments] : []));
    expect(summary(streamed.choices[0]!.message)).toEqual(summary(json.choices[0]!.message));

    const next = await client.chat.completions.create({
      model: "tiny-chat",
      messages: [
        ...messages,
        json.choices[0]!.message,
        { role: "tool", tool_call_id: call!.id, content: "Shipped yesterday." },
      ],
      tools,
      max_tokens: 4,
      temperature: 0,
    });
    expect(next.choices[0]!.message.role).toBe("assistant");
    assertNoSecrets(JSON.stringify([json, streamed, next]));
  });

  it("refuses a request without a key with 401 in the OpenAI error envelope", async () => {
    const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { message: expect.any(String), type: "authentication_error", param: null, code: "invalid_api_key" },
    });
    const anonymous = new OpenAI({
      baseURL: `${stack.gatewayUrl}/v1`,
      apiKey: "sk-wrong-key-0000000000",
      maxRetries: 0,
    });
    await expect(anonymous.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("answers a bad request with a precise 400 and no internals", async () => {
    const error = await client.chat.completions
      .create({ model: "tiny-chat", messages: [{ role: "wizard" as "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("messages.0.role");
    assertNoSecrets(JSON.stringify((error as Error).message));
  });

  it("keeps inference closed to callers without the internal key the gateway adds", async () => {
    const direct = await fetch(`${stack.inferenceUrl}/v1/models`);
    expect(direct.status).toBe(401);
    const withKey = await fetch(`${stack.inferenceUrl}/v1/models`, {
      headers: { authorization: `Bearer ${stack.inferenceKey}` },
    });
    expect(withKey.status).toBe(200);
  });

  it("never logs the Hub token", () => {
    expect(stack.inference.lines.join("\n")).not.toContain(stack.hubToken);
    expect(stack.gateway.lines.join("\n")).not.toContain(stack.apiKey);
    expect(stack.gateway.lines.join("\n")).not.toContain(stack.inferenceKey);
    expect(stack.inference.lines.join("\n")).not.toContain(stack.inferenceKey);
  });
});
