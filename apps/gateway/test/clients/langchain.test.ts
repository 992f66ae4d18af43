import { AIMessage, type AIMessageChunk, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLIENT_MODELS,
  type ClientStack,
  GRAMMAR_MAX_TOKENS,
  guardNetwork,
  outbound,
  recordingFetch,
  startClientStack,
} from "./client-stack.ts";
import { SCHEMAS, type SchemaName, TOOL_INPUTS } from "./schemas.ts";

/**
 * LangChain JS (`@langchain/openai` ChatOpenAI) against the gateway over real HTTP. Token usage must come from the
 * server's `usage` (LangChain's own counter, js-tiktoken, would download its encodings from the internet: the network
 * guard fails the file if anything tries to leave loopback).
 */
guardNetwork();

describe.each(CLIENT_MODELS)("LangChain ChatOpenAI on the %s model", (kind) => {
  let s: ClientStack;
  let llm: ChatOpenAI;
  const wire = recordingFetch();
  const lastBody = () => wire.exchanges.at(-1)!.body;

  beforeAll(async () => {
    s = await startClientStack(kind);
    llm = new ChatOpenAI({
      model: s.model,
      apiKey: s.apiKey,
      configuration: { baseURL: s.baseURL, fetch: wire.fetch },
      temperature: 0,
      maxTokens: 8,
      maxRetries: 0,
    });
  });
  afterAll(async () => {
    await s?.stop();
    expect(outbound).toEqual([]);
  });

  it("invoke: an AIMessage with the server's usage", async () => {
    const reply = await llm.invoke("Once upon a time");
    expect(reply).toBeInstanceOf(AIMessage);
    expect(typeof reply.content === "string" && reply.content.length).toBeGreaterThan(0);
    expect(reply.response_metadata["finish_reason"]).toBe("length");
    expect(reply.usage_metadata).toMatchObject({ output_tokens: 8 });
    expect(reply.usage_metadata!.input_tokens).toBeGreaterThan(0);
    expect(reply.usage_metadata!.total_tokens).toBe(reply.usage_metadata!.input_tokens + 8);
    expect(lastBody()).toMatchObject({ model: s.model, max_tokens: 8 });
  });

  it("stream: chunks that concatenate to the JSON answer, usage from the server's last chunk", async () => {
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await llm.stream("Tell me a story")) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    const whole = chunks.reduce((a, b) => a.concat(b));
    expect(whole.usage_metadata).toMatchObject({ output_tokens: 8 });
    expect(whole.usage_metadata!.input_tokens).toBeGreaterThan(0);
    expect(lastBody()).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const json = await llm.invoke("Tell me a story");
    expect(whole.content).toBe(json.content);
  });

  it("bindTools: the call comes back as tool_calls with valid arguments, and its result goes back in", async () => {
    const input = TOOL_INPUTS["an enum"];
    const weather = tool(async ({ city }) => `Sunny in ${city}.`, {
      name: "weather",
      description: "The weather forecast for a city",
      schema: input,
    });
    const question = new HumanMessage("What is the weather in Paris?");
    // A forced call needs room for its syntax.
    const caller = new ChatOpenAI({
      model: s.model,
      apiKey: s.apiKey,
      configuration: { baseURL: s.baseURL, fetch: wire.fetch },
      temperature: 0,
      maxTokens: GRAMMAR_MAX_TOKENS,
      maxRetries: 0,
    });
    const call = await caller.bindTools([weather], { tool_choice: "weather" }).invoke([question]);
    expect(call.tool_calls).toHaveLength(1);
    const toolCall = call.tool_calls![0]!;
    expect(toolCall.name).toBe("weather");
    expect(toolCall.id).toMatch(/^call_/);
    expect(input.parse(toolCall.args)).toEqual(toolCall.args);
    expect(call.response_metadata["finish_reason"]).toBe("tool_calls");
    expect(lastBody().tool_choice).toEqual({ type: "function", function: { name: "weather" } });

    const result = (await weather.invoke(toolCall)) as ToolMessage;
    expect(result).toBeInstanceOf(ToolMessage);
    const answer = await llm.bindTools([weather]).invoke([question, call, result]);
    expect(answer.tool_calls ?? []).toHaveLength(0);
    expect(lastBody().messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "tool"]);
  });

  for (const method of ["jsonSchema", "functionCalling"] as const) {
    it.each(Object.keys(SCHEMAS) as SchemaName[])(
      `withStructuredOutput (method: "${method}", %s): the parsed object validates`,
      async (name) => {
        const schema = SCHEMAS[name];
        const structured = new ChatOpenAI({
          model: s.model,
          apiKey: s.apiKey,
          configuration: { baseURL: s.baseURL, fetch: wire.fetch },
          temperature: 0,
          maxTokens: GRAMMAR_MAX_TOKENS,
          maxRetries: 0,
        }).withStructuredOutput(schema, { method, name: "character", includeRaw: true });
        const { parsed, raw } = await structured.invoke("Invent a character.");
        expect(schema.parse(parsed)).toEqual(parsed);
        expect((raw as AIMessage).usage_metadata!.output_tokens).toBeGreaterThan(0);
        if (method === "jsonSchema") {
          expect(lastBody().response_format).toMatchObject({ type: "json_schema", json_schema: { name: "character" } });
        } else {
          expect(lastBody().tool_choice).toEqual({ type: "function", function: { name: "character" } });
        }
      },
    );
  }
});
