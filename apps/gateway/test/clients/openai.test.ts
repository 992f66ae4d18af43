import OpenAI from "openai";
import { zodFunction, zodResponseFormat } from "openai/helpers/zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  CLIENT_MODELS,
  type ClientStack,
  GRAMMAR_MAX_TOKENS,
  guardNetwork,
  outbound,
  recordingFetch,
  startClientStack,
} from "./client-stack.ts";
import { SCHEMAS, type SchemaName, TOOL_INPUTS, type ToolInputName } from "./schemas.ts";

/**
 * The official `openai` client (v6) against the gateway over real HTTP: the zod helpers (`zodResponseFormat`,
 * `zodFunction`, with zod 4), the tool runner, stateful Responses (`previous_response_id`), models and embeddings.
 */
guardNetwork();

describe.each(CLIENT_MODELS)("openai on the %s model", (kind) => {
  let s: ClientStack;
  let client: OpenAI;
  const wire = recordingFetch();
  const lastBody = () => wire.exchanges.at(-1)!.body;
  const user = (content: string) => [{ role: "user" as const, content }];

  beforeAll(async () => {
    s = await startClientStack(kind, { embeddings: true });
    client = new OpenAI({ baseURL: s.baseURL, apiKey: s.apiKey, maxRetries: 0, fetch: wire.fetch });
  });
  afterAll(async () => {
    await s?.stop();
    expect(outbound).toEqual([]);
  });

  it.each(Object.keys(SCHEMAS) as SchemaName[])(
    "chat.completions.parse with zodResponseFormat (%s): message.parsed validates",
    async (name) => {
      const schema = SCHEMAS[name];
      const completion = await client.chat.completions.parse({
        model: s.model,
        messages: user("Invent a character."),
        response_format: zodResponseFormat(schema, "character"),
        max_tokens: GRAMMAR_MAX_TOKENS,
        temperature: 0,
      });
      const message = completion.choices[0]!.message;
      expect(completion.choices[0]!.finish_reason).toBe("stop");
      expect(message.parsed).not.toBeNull();
      expect(schema.parse(message.parsed)).toEqual(message.parsed);
      expect(lastBody().response_format).toMatchObject({
        type: "json_schema",
        json_schema: { name: "character", strict: true },
      });
    },
  );

  it.each(Object.keys(TOOL_INPUTS) as ToolInputName[])(
    "chat.completions.parse with zodFunction (%s): the call's parsed_arguments validate",
    async (name) => {
      const input = TOOL_INPUTS[name];
      const completion = await client.chat.completions.parse({
        model: s.model,
        messages: user("What is the weather in Paris?"),
        tools: [zodFunction({ name: "weather", parameters: input, description: "The weather forecast for a city" })],
        tool_choice: { type: "function", function: { name: "weather" } },
        max_tokens: GRAMMAR_MAX_TOKENS,
        temperature: 0,
      });
      const choice = completion.choices[0]!;
      expect(choice.finish_reason).toBe("tool_calls");
      const call = choice.message.tool_calls?.[0];
      expect(call?.type === "function" && call.function.name).toBe("weather");
      const parsed = call?.type === "function" ? call.function.parsed_arguments : undefined;
      expect(input.parse(parsed)).toEqual(parsed);
    },
  );

  it("chat.completions.runTools: calls the function with valid arguments, and its result goes back to the model", async () => {
    const input = TOOL_INPUTS["an enum"];
    const calls: unknown[] = [];
    const runner = client.chat.completions.runTools({
      model: s.model,
      messages: user("What is the weather in Paris?"),
      tools: [
        {
          type: "function",
          function: {
            name: "weather",
            description: "The weather forecast for a city",
            parameters: z.toJSONSchema(input) as Record<string, unknown>,
            parse: (text: string) => input.parse(JSON.parse(text)),
            function: (args: z.infer<typeof input>) => {
              calls.push(args);
              return { forecast: "sunny", celsius: 21 };
            },
          },
        },
      ],
      // A named choice: the server forces the call with a grammar; the runner calls the function once and stops.
      tool_choice: { type: "function", function: { name: "weather" } },
      max_tokens: GRAMMAR_MAX_TOKENS,
      temperature: 0,
    });
    expect(await runner.finalFunctionToolCallResult()).toBe(JSON.stringify({ forecast: "sunny", celsius: 21 }));
    expect(calls).toHaveLength(1);
    expect(input.parse(calls[0])).toEqual(calls[0]);
    expect(runner.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool"]);
    expect((await runner.totalUsage()).completion_tokens).toBeGreaterThan(0);

    // The conversation as the runner left it, sent on: the model answers the tool's result.
    const answer = await client.chat.completions.create({
      model: s.model,
      messages: runner.messages,
      tools: [
        {
          type: "function",
          function: { name: "weather", parameters: z.toJSONSchema(input) as Record<string, unknown> },
        },
      ],
      tool_choice: "none",
      max_tokens: 8,
      temperature: 0,
    });
    expect(answer.choices[0]!.message.content?.length).toBeGreaterThan(0);
    expect(answer.choices[0]!.message.tool_calls ?? []).toHaveLength(0);
  });

  it("responses.create with previous_response_id continues a stored conversation", async () => {
    const first = await client.responses.create({
      model: s.model,
      input: "Tell me a story.",
      max_output_tokens: 6,
      temperature: 0,
      store: true,
    });
    expect(first.output_text.length).toBeGreaterThan(0);
    const second = await client.responses.create({
      model: s.model,
      input: "Go on.",
      previous_response_id: first.id,
      max_output_tokens: 6,
      temperature: 0,
      store: true,
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text.length).toBeGreaterThan(0);
    // The second prompt holds the first turn (question and answer) as well as the new question.
    expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens + first.usage!.output_tokens);
  });

  it("models.retrieve and models.list name the served model", async () => {
    const model = await client.models.retrieve(s.model);
    expect(model).toMatchObject({ id: s.model, object: "model" });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual([s.model]);
    await expect(client.models.retrieve("no-such-model")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("embeddings.create: one vector per input, floats and base64 alike, with usage", async () => {
    const floats = await client.embeddings.create({
      model: s.model,
      input: ["a cat", "a dog"],
      encoding_format: "float",
    });
    expect(floats.data.map((d) => d.index)).toEqual([0, 1]);
    const dims = floats.data[0]!.embedding.length;
    expect(dims).toBeGreaterThan(0);
    expect(floats.data[1]!.embedding).toHaveLength(dims);
    expect(floats.usage.prompt_tokens).toBeGreaterThan(0);
    // The client's default asks for base64 and decodes it.
    const decoded = await client.embeddings.create({ model: s.model, input: "a cat" });
    expect(decoded.data[0]!.embedding).toHaveLength(dims);
    for (const [i, x] of decoded.data[0]!.embedding.entries()) expect(x).toBeCloseTo(floats.data[0]!.embedding[i]!, 5);
  });
});
