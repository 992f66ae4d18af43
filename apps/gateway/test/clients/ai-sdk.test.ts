import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import {
  generateObject,
  generateText,
  type LanguageModel,
  type ModelMessage,
  stepCountIs,
  streamObject,
  streamText,
  tool,
} from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  CLIENT_MODELS,
  type ClientStack,
  GRAMMAR_MAX_TOKENS,
  guardNetwork,
  outbound,
  recordingFetch,
  startClientStack,
} from "./client-stack.ts";
import { SCHEMAS, TOOL_INPUTS } from "./schemas.ts";

/**
 * The Vercel AI SDK (ai 6) against the gateway over real HTTP, with both providers app developers use for an
 * OpenAI-compatible server: `@ai-sdk/openai-compatible` (with `supportsStructuredOutputs: true`) and `@ai-sdk/openai`
 * (`.chat(model)` for Chat Completions; the default `openai(model)` for the Responses API).
 */
guardNetwork();

describe.each(CLIENT_MODELS)("AI SDK on the %s model", (kind) => {
  let s: ClientStack;
  const wire = recordingFetch();
  const models: Record<string, () => LanguageModel> = {};

  beforeAll(async () => {
    s = await startClientStack(kind);
    const compatible = createOpenAICompatible({
      name: "slm",
      baseURL: s.baseURL,
      apiKey: s.apiKey,
      supportsStructuredOutputs: true,
      includeUsage: true,
      fetch: wire.fetch,
    });
    const openai = createOpenAI({ baseURL: s.baseURL, apiKey: s.apiKey, fetch: wire.fetch });
    models["openai-compatible"] = () => compatible(s.model);
    models["openai.chat"] = () => openai.chat(s.model);
    models["openai (Responses)"] = () => openai(s.model);
  });
  afterAll(async () => {
    await s?.stop();
    expect(outbound).toEqual([]);
  });

  const lastBody = () => wire.exchanges.at(-1)!.body;

  describe.each(["openai-compatible", "openai.chat"])("%s", (provider) => {
    it("generateText: text, finish reason and the server's usage", async () => {
      const result = await generateText({
        model: models[provider]!(),
        prompt: "Once upon a time",
        maxOutputTokens: 8,
        temperature: 0,
        maxRetries: 0,
      });
      expect(result.text.length).toBeGreaterThan(0);
      expect(result.finishReason).toBe("length");
      expect(result.usage.outputTokens).toBe(8);
      expect(result.usage.inputTokens).toBeGreaterThan(0);
      expect(result.usage.totalTokens).toBe(result.usage.inputTokens! + 8);
      expect(lastBody()).toMatchObject({ model: s.model, max_tokens: 8 });
    });

    it("streamText: the streamed text is the JSON answer's, with usage at the end", async () => {
      const request = { prompt: "Tell me a story", maxOutputTokens: 8, temperature: 0, maxRetries: 0 };
      const result = streamText({ model: models[provider]!(), ...request });
      const pieces: string[] = [];
      for await (const piece of result.textStream) pieces.push(piece);
      expect(pieces.length).toBeGreaterThan(1);
      expect(await result.finishReason).toBe("length");
      const usage = await result.usage;
      expect(usage.outputTokens).toBe(8);
      expect(usage.inputTokens).toBeGreaterThan(0);
      expect(lastBody()).toMatchObject({ stream: true, stream_options: { include_usage: true } });
      const json = await generateText({ model: models[provider]!(), ...request });
      expect(pieces.join("")).toBe(json.text);
    });

    it.each(Object.keys(SCHEMAS) as Array<keyof typeof SCHEMAS>)(
      "generateObject (%s): the schema goes out as json_schema, the object validates",
      async (name) => {
        const schema = SCHEMAS[name];
        const { object, usage, finishReason } = await generateObject({
          model: models[provider]!(),
          schema,
          prompt: "Invent a character.",
          maxOutputTokens: GRAMMAR_MAX_TOKENS,
          temperature: 0,
          maxRetries: 0,
        });
        expect(schema.parse(object)).toEqual(object);
        expect(finishReason).toBe("stop");
        expect(usage.outputTokens).toBeGreaterThan(0);
        expect(lastBody().response_format).toMatchObject({
          type: "json_schema",
          json_schema: { schema: { properties: { name: { type: "string", minLength: 1, maxLength: 12 } } } },
        });
      },
    );

    it.each(Object.keys(SCHEMAS) as Array<keyof typeof SCHEMAS>)(
      "streamObject (%s): partial objects stream in, the final object validates",
      async (name) => {
        const schema = SCHEMAS[name];
        const result = streamObject({
          model: models[provider]!(),
          schema,
          prompt: "Invent a character.",
          maxOutputTokens: GRAMMAR_MAX_TOKENS,
          temperature: 0,
          maxRetries: 0,
        });
        let partials = 0;
        for await (const _ of result.partialObjectStream) partials++;
        const object = await result.object;
        expect(schema.parse(object)).toEqual(object);
        expect(partials).toBeGreaterThan(1);
        expect((await result.usage).outputTokens).toBeGreaterThan(0);
      },
    );

    it.each(Object.keys(TOOL_INPUTS) as Array<keyof typeof TOOL_INPUTS>)(
      "tools (%s): a multi-step loop calls the tool with valid arguments, feeds its result back and answers",
      async (name) => {
        const weatherInput: z.ZodType<Record<string, unknown>> = TOOL_INPUTS[name];
        const calls: unknown[] = [];
        const result = await generateText({
          model: models[provider]!(),
          prompt: "What is the weather in Paris?",
          tools: {
            weather: tool({
              description: "The weather forecast for a city",
              inputSchema: weatherInput,
              execute: async (input) => {
                calls.push(input);
                return { forecast: "sunny", celsius: 21 };
              },
            }),
          },
          // The model must call the tool first (a named choice: exactly one call, forced by a grammar), then answer in
          // text. ("required" allows several calls: random weights then go on calling until max_tokens.)
          prepareStep: ({ stepNumber }) => ({
            toolChoice: stepNumber === 0 ? { type: "tool" as const, toolName: "weather" } : ("none" as const),
          }),
          stopWhen: stepCountIs(3),
          maxOutputTokens: GRAMMAR_MAX_TOKENS,
          temperature: 0,
          maxRetries: 0,
        });
        expect(result.steps).toHaveLength(2);
        const [first, second] = result.steps;
        expect(first!.finishReason).toBe("tool-calls");
        expect(first!.toolCalls).toHaveLength(1);
        expect(first!.toolCalls[0]!.toolName).toBe("weather");
        expect(weatherInput.parse(first!.toolCalls[0]!.input)).toEqual(first!.toolCalls[0]!.input);
        expect(calls).toEqual([first!.toolCalls[0]!.input]);
        expect(first!.toolResults[0]!.output).toEqual({ forecast: "sunny", celsius: 21 });
        expect(second!.toolCalls).toHaveLength(0);
        expect(second!.text.length).toBeGreaterThan(0);
        // The second request carried the call and its result back.
        const sent = lastBody().messages as Array<{ role: string; tool_calls?: unknown[]; content?: unknown }>;
        expect(sent.map((m) => m.role)).toEqual(["user", "assistant", "tool"]);
        expect(sent[1]!.tool_calls).toHaveLength(1);
        expect(result.totalUsage.outputTokens).toBe(first!.usage.outputTokens! + second!.usage.outputTokens!);
      },
    );
  });

  describe("openai(model): the Responses API", () => {
    const responses = () => models["openai (Responses)"]!();
    const lastExchange = () => wire.exchanges.at(-1)!;

    it("several turns feeding back result.response.messages (stored items sent as item_reference)", async () => {
      const messages: ModelMessage[] = [];
      const usages: number[] = [];
      for (const [turn, question] of ["Tell me a story.", "Go on.", "And then?"].entries()) {
        messages.push({ role: "user", content: question });
        const result = await generateText({
          model: responses(),
          messages,
          maxOutputTokens: 6,
          temperature: 0,
          maxRetries: 0,
        });
        expect(lastExchange().url).toMatch(/\/v1\/responses$/);
        const types = (lastExchange().body.input as Array<{ type?: string }>).map((item) => item.type);
        expect(types.filter((t) => t === "item_reference")).toHaveLength(turn);
        expect(result.text.length).toBeGreaterThan(0);
        expect(result.usage.outputTokens).toBe(6);
        usages.push(result.usage.inputTokens!);
        messages.push(...result.response.messages);
      }
      // Each turn's prompt holds the turns before it: the stored answers were expanded into it.
      expect(usages[1]).toBeGreaterThan(usages[0]!);
      expect(usages[2]).toBeGreaterThan(usages[1]!);
      expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user", "assistant"]);
    });

    it("streamText: text deltas, finish reason and usage", async () => {
      const result = streamText({ model: responses(), prompt: "Tell me a story", maxOutputTokens: 8, maxRetries: 0 });
      const pieces: string[] = [];
      for await (const piece of result.textStream) pieces.push(piece);
      expect(pieces.length).toBeGreaterThan(1);
      expect(await result.finishReason).toBe("length");
      expect((await result.usage).outputTokens).toBe(8);
      expect(lastExchange().body).toMatchObject({ stream: true, max_output_tokens: 8 });
    });

    it("generateObject and streamObject (zod ints with bounds): text.format json_schema, objects that validate", async () => {
      const schema = SCHEMAS["zod ints with bounds"];
      const request = { schema, prompt: "Invent a character.", maxOutputTokens: GRAMMAR_MAX_TOKENS, maxRetries: 0 };
      const { object } = await generateObject({ model: responses(), ...request });
      expect(schema.parse(object)).toEqual(object);
      expect(lastExchange().body.text.format).toMatchObject({ type: "json_schema", strict: true });
      const streamed = streamObject({ model: responses(), ...request });
      for await (const _ of streamed.partialObjectStream);
      const final = await streamed.object;
      expect(schema.parse(final)).toEqual(final);
    });

    it("tools (zod ints with bounds): function_call, its output sent back, then an answer", async () => {
      const input = TOOL_INPUTS["zod ints with bounds"];
      const result = await generateText({
        model: responses(),
        prompt: "What is the weather in Paris?",
        tools: {
          weather: tool({ inputSchema: input, execute: async () => ({ forecast: "sunny", celsius: 21 }) }),
        },
        prepareStep: ({ stepNumber }) => ({
          toolChoice: stepNumber === 0 ? { type: "tool" as const, toolName: "weather" } : ("none" as const),
        }),
        stopWhen: stepCountIs(3),
        maxOutputTokens: GRAMMAR_MAX_TOKENS,
        maxRetries: 0,
      });
      expect(result.steps).toHaveLength(2);
      expect(result.steps[0]!.finishReason).toBe("tool-calls");
      expect(result.steps[1]!.toolCalls).toHaveLength(0);
      expect(result.steps[1]!.text.length).toBeGreaterThan(0);
      const call = result.steps[0]!.toolCalls[0]!;
      expect(input.parse(call.input)).toEqual(call.input);
      const types = (lastExchange().body.input as Array<{ type?: string; role?: string }>).map((i) => i.type ?? i.role);
      expect(types.some((t) => t === "function_call" || t === "item_reference")).toBe(true);
      expect(types).toContain("function_call_output");
    });
  });
});
