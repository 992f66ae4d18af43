import { Ajv } from "ajv";
import OpenAI from "openai";
import { generateTinyLlama, readLlamaSourceText } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * Function tools through the Responses API (official `openai` client, real inference process): a tiny random-weight
 * model with Qwen2.5's template (Hermes `<tool_call>` syntax). `tool_choice: "required"` is forced by the chat path's
 * grammar, so the answer is a function_call item whatever the weights; history items are rendered like chat's.
 */
const KEY = "internal-key-for-tests-0123456789";
let served: ServedModel;
let client: OpenAI;

const parameters = {
  type: "object",
  properties: { city: { type: "string", maxLength: 16 }, unit: { enum: ["celsius", "fahrenheit"] } },
  required: ["city", "unit"],
  additionalProperties: false,
};
const TOOLS: OpenAI.Responses.FunctionTool[] = [
  { type: "function", name: "get_weather", description: "Current weather for a city.", parameters, strict: true },
];
const validate = new Ajv().compile(parameters);

beforeAll(async () => {
  const chatTemplate = await readLlamaSourceText("models/templates/Qwen-Qwen2.5-7B-Instruct.jinja");
  const gguf = generateTinyLlama({
    seed: 11,
    contextLength: 2048,
    chatTemplate,
    extraTokens: ["<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"],
  });
  served = await serveTinyModel({ gguf, env: { CONTEXT_SIZE: "2048", PARALLEL: "1", INFERENCE_API_KEY: KEY } });
  client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: KEY, maxRetries: 0 });
}, 120_000);
afterAll(async () => {
  await served?.stop();
});

describe("Responses API with function tools", () => {
  it("answers a required call as a function_call item, and streams it as output_item.added, argument deltas, done", async () => {
    const request = {
      model: "tiny",
      input: "What is the weather in Paris?",
      tools: TOOLS,
      tool_choice: "required" as const,
      temperature: 0,
      max_output_tokens: 200,
    };
    const json = await client.responses.create(request);
    const calls = json.output.filter(
      (item): item is OpenAI.Responses.ResponseFunctionToolCall => item.type === "function_call",
    );
    expect(calls.length).toBeGreaterThanOrEqual(1);
    for (const call of calls) {
      expect(call).toMatchObject({
        name: "get_weather",
        status: "completed",
        call_id: expect.stringMatching(/^call_/),
        id: expect.stringMatching(/^fc_/),
      });
      expect(validate(JSON.parse(call.arguments))).toBe(true);
    }
    expect(json.status).toBe("completed");

    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of await client.responses.create({ ...request, stream: true })) events.push(event);
    const types = events.map((e) => e.type);
    const added = events.find(
      (e) => e.type === "response.output_item.added",
    ) as OpenAI.Responses.ResponseOutputItemAddedEvent;
    expect(added.item).toMatchObject({ type: "function_call", name: "get_weather", arguments: "" });
    expect(types).toContain("response.function_call_arguments.delta");
    const done = events.find(
      (e) => e.type === "response.function_call_arguments.done",
    ) as OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent;
    const deltas = events.flatMap((e) =>
      e.type === "response.function_call_arguments.delta" && e.item_id === done.item_id ? [e.delta] : [],
    );
    expect(deltas.join("")).toBe(done.arguments);
    expect(types.at(-1)).toBe("response.completed");
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    const strip = (output: OpenAI.Responses.ResponseOutputItem[]) =>
      output.map((item) => (item.type === "function_call" ? [item.name, item.arguments] : [item.type]));
    expect(strip(completed.response.output)).toEqual(strip(json.output));
  }, 60_000);

  it("renders function_call and function_call_output items like chat's tool_calls and tool messages", async () => {
    const args = JSON.stringify({ city: "Paris", unit: "celsius" });
    const response = await client.responses.create({
      model: "tiny",
      tools: TOOLS,
      temperature: 0,
      max_output_tokens: 12,
      input: [
        { role: "user", content: "What is the weather in Paris?" },
        { type: "function_call", call_id: "call_1", name: "get_weather", arguments: args },
        { type: "function_call_output", call_id: "call_1", output: '{"temperature": 21}' },
      ],
    });
    const chat = await client.chat.completions.create({
      model: "tiny",
      tools: TOOLS.map(({ name, description, parameters: p }) => ({
        type: "function" as const,
        function: { name, description: description!, parameters: p! },
      })),
      temperature: 0,
      max_tokens: 12,
      messages: [
        { role: "user", content: "What is the weather in Paris?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: args } }],
        },
        { role: "tool", tool_call_id: "call_1", content: '{"temperature": 21}' },
      ],
    });
    expect(response.usage!.input_tokens).toBe(chat.usage!.prompt_tokens);
    expect(response.output_text).toBe(chat.choices[0]!.message.content ?? "");
  }, 60_000);
});
