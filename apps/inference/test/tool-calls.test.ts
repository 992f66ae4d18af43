import { Ajv } from "ajv";
import OpenAI from "openai";
import { buildLlamaVocab, generateTinyLlama, readLlamaSourceText } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * Tool calling through the official `openai` client against a real inference process: a tiny random-weight model
 * with Qwen2.5's chat template (Hermes `<tool_call>` syntax, its markers as control tokens). `required` and named
 * functions are forced by the grammar, so even a random model answers with valid calls; under `auto` a logit bias on
 * `<tool_call>` makes it open one, and the lazy grammar makes the rest a valid call.
 */
const KEY = "internal-key-for-tests-0123456789";
let served: ServedModel;
let client: OpenAI;

const WEATHER = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather for a city.",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 16 }, unit: { enum: ["celsius", "fahrenheit"] } },
      required: ["city", "unit"],
      additionalProperties: false,
    },
  },
};
const TIME = {
  type: "function" as const,
  function: {
    name: "get_time",
    parameters: { type: "object", properties: { zone: { type: "string", maxLength: 8 } }, required: ["zone"] },
  },
};
const TOOLS = [WEATHER, TIME];
const ajv = new Ajv();
const validators = {
  get_weather: ajv.compile(WEATHER.function.parameters),
  get_time: ajv.compile(TIME.function.parameters),
};
const messages = [{ role: "user" as const, content: "What is the weather in Paris?" }];
const EXTRA_TOKENS = ["<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"];
const TOOL_CALL_TOKEN = buildLlamaVocab(EXTRA_TOKENS).tokens.indexOf("<tool_call>");

beforeAll(async () => {
  const chatTemplate = await readLlamaSourceText("models/templates/Qwen-Qwen2.5-7B-Instruct.jinja");
  const gguf = generateTinyLlama({
    seed: 11,
    contextLength: 2048,
    chatTemplate,
    extraTokens: EXTRA_TOKENS,
  });
  served = await serveTinyModel({ gguf, env: { CONTEXT_SIZE: "2048", PARALLEL: "1", INFERENCE_API_KEY: KEY } });
  client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: KEY, maxRetries: 0 });
}, 120_000);
afterAll(async () => {
  await served?.stop();
});

function expectValidCalls(calls: OpenAI.ChatCompletionMessageToolCall[] | undefined, names: readonly string[]) {
  expect(calls?.length).toBeGreaterThanOrEqual(1);
  for (const call of calls!) {
    expect(call.type).toBe("function");
    if (call.type !== "function") continue;
    expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(names).toContain(call.function.name);
    const validate = validators[call.function.name as keyof typeof validators];
    expect(validate(JSON.parse(call.function.arguments)), call.function.arguments).toBe(true);
  }
}

describe("tool calls with the openai client", () => {
  it("tool_choice required: a call in JSON, and the same call streamed (id and name first, then arguments)", async () => {
    const request = {
      model: "tiny",
      messages,
      tools: TOOLS,
      tool_choice: "required" as const,
      temperature: 0,
      max_tokens: 300,
    };
    const json = await client.chat.completions.create(request);
    const choice = json.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expectValidCalls(choice.message.tool_calls, ["get_weather", "get_time"]);

    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) chunks.push(chunk);
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    // OpenAI's order: the opening delta of a call carries index, id, type and name; the next ones only arguments.
    expect(deltas[0]).toMatchObject({
      index: 0,
      id: expect.stringMatching(/^call_/),
      type: "function",
      function: { name: expect.any(String), arguments: "" },
    });
    expect(deltas[1]).toEqual({ index: 0, function: { arguments: expect.any(String) } });
    // Forced by the grammar, the arguments stream as they are generated: in many fragments.
    expect(deltas.filter((d) => d.index === 0 && d.id === undefined).length).toBeGreaterThan(5);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("tool_calls");
    // What the client's own accumulator makes of the stream equals the JSON answer (ids aside: each answer has its own).
    const accumulated = await client.chat.completions.stream({ ...request }).finalChatCompletion();
    const strip = (m: OpenAI.ChatCompletionMessage) => ({
      content: m.content ?? null,
      calls: m.tool_calls?.map((c) => (c.type === "function" ? [c.function.name, c.function.arguments] : [])),
    });
    expect(strip(accumulated.choices[0]!.message)).toEqual(strip(choice.message));
    expect(accumulated.choices[0]!.finish_reason).toBe("tool_calls");
  }, 60_000);

  it("a named function is always the call, its arguments valid against its schema", async () => {
    for (const seed of [1, 2, 3]) {
      const answer = await client.chat.completions.create({
        model: "tiny",
        messages,
        tools: TOOLS,
        tool_choice: { type: "function", function: { name: "get_time" } },
        parallel_tool_calls: false,
        temperature: 1,
        seed,
        max_tokens: 300,
      });
      expect(answer.choices[0]!.finish_reason).toBe("tool_calls");
      expect(answer.choices[0]!.message.tool_calls).toHaveLength(1);
      expectValidCalls(answer.choices[0]!.message.tool_calls, ["get_time"]);
    }
  }, 60_000);

  it("a named function yields exactly one call even with parallel calls allowed", async () => {
    for (const seed of [1, 2, 3]) {
      const answer = await client.chat.completions.create({
        model: "tiny",
        messages,
        tools: TOOLS,
        tool_choice: { type: "function", function: { name: "get_time" } },
        temperature: 1,
        seed,
        max_tokens: 300,
      });
      expect(answer.choices[0]!.message.tool_calls).toHaveLength(1);
      expectValidCalls(answer.choices[0]!.message.tool_calls, ["get_time"]);
    }
  }, 60_000);

  it("a call cut by max_tokens comes back as a call with its cut arguments and finish_reason length, JSON and stream", async () => {
    const request = {
      model: "tiny",
      messages,
      tools: TOOLS,
      tool_choice: { type: "function" as const, function: { name: "get_weather" } },
      temperature: 0,
      max_tokens: 40,
    };
    const answer = await client.chat.completions.create(request);
    const choice = answer.choices[0]!;
    expect(choice.finish_reason).toBe("length");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]!;
    expect(call.type === "function" && call.function.name).toBe("get_weather");
    const args = call.type === "function" ? call.function.arguments : "";
    expect(args.startsWith("{"), args).toBe(true);
    expect(() => JSON.parse(args), args).toThrow();
    const chunks = [];
    for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) chunks.push(chunk);
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(content).toBe("");
    const streamedArgs = chunks
      .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      .map((d) => d.function?.arguments ?? "")
      .join("");
    expect(streamedArgs).toBe(args);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("length");
  }, 60_000);

  it("under auto, a call the model starts follows the tool's schema (lazy grammar), and parallel_tool_calls false keeps one", async () => {
    // The bias makes the random model write `<tool_call>` at every step it may: the grammar takes over after the first.
    for (const stream of [false, true]) {
      const request = {
        model: "tiny",
        messages,
        tools: TOOLS,
        parallel_tool_calls: false,
        temperature: 0,
        max_tokens: 300,
        logit_bias: { [String(TOOL_CALL_TOKEN)]: 100 },
      };
      const answer = stream
        ? await client.chat.completions.stream(request).finalChatCompletion()
        : await client.chat.completions.create(request);
      const choice = answer.choices[0]!;
      expect(choice.finish_reason).toBe("tool_calls");
      expect(choice.message.tool_calls).toHaveLength(1);
      expectValidCalls(choice.message.tool_calls, ["get_weather", "get_time"]);
      expect(choice.message.content ?? "").toBe("");
    }
  }, 60_000);

  it("round trip: the call and its result go back into the history, rendered by the template, and the model answers", async () => {
    const first = await client.chat.completions.create({
      model: "tiny",
      messages,
      tools: TOOLS,
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
      temperature: 0,
      max_tokens: 300,
    });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(call.type).toBe("function");
    if (call.type !== "function") return;
    const history: OpenAI.ChatCompletionMessageParam[] = [
      ...messages,
      first.choices[0]!.message,
      { role: "tool", tool_call_id: call.id, content: '{"temperature": 21}' },
    ];
    const second = await client.chat.completions.create({
      model: "tiny",
      messages: history,
      tools: TOOLS,
      temperature: 0,
      max_tokens: 8,
    });
    expect(second.choices[0]!.finish_reason).toMatch(/^(stop|length|tool_calls)$/);

    // The prompt is the template's: the call as Qwen writes it (arguments as an object), the result as a tool response.
    const rendered = await fetch(`${served.url}/apply-template`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: history, tools: TOOLS }),
    });
    const { prompt } = (await rendered.json()) as { prompt: string };
    const args = JSON.parse(call.function.arguments) as Record<string, string>;
    expect(prompt).toContain(
      `<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": ${JSON.stringify(args["city"])}, "unit": "${args["unit"]}"}}\n</tool_call><|im_end|>`,
    );
    expect(prompt).toContain(
      '<|im_start|>user\n<tool_response>\n{"temperature": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n',
    );
    expect(second.usage?.prompt_tokens).toBeGreaterThan(first.usage!.prompt_tokens);
  }, 60_000);

  it("auto and none answer text when the model writes no call, in JSON and stream alike", async () => {
    for (const tool_choice of ["auto", "none"] as const) {
      const request = { model: "tiny", messages, tools: TOOLS, tool_choice, temperature: 0, max_tokens: 12 };
      const json = await client.chat.completions.create(request);
      expect(json.choices[0]!.message.tool_calls).toBeUndefined();
      expect(json.choices[0]!.finish_reason).not.toBe("tool_calls");
      let content = "";
      for await (const chunk of await client.chat.completions.create({ ...request, stream: true }))
        content += chunk.choices[0]?.delta.content ?? "";
      expect(content).toBe(json.choices[0]!.message.content);
    }
  }, 60_000);

  it("a call max_tokens cuts before its name is neither text nor a call (the marker is one control token), never an error", async () => {
    const tokenize = await fetch(`${served.url}/tokenize`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ content: "<tool_call>" }),
    });
    const { tokens } = (await tokenize.json()) as { tokens: number[] };
    expect(tokens).toHaveLength(1); // a control token of this vocabulary
    // The bias makes the model open a call; the lazy grammar then writes its start, and max_tokens cuts it before the
    // function's name: the syntax is not shown as content (text that only looks like a call: the parser's unit tests).
    const request = {
      model: "tiny",
      messages,
      tools: TOOLS,
      temperature: 0,
      max_tokens: 6,
      logit_bias: { [String(tokens[0])]: 100 },
    };
    const json = await client.chat.completions.create(request);
    expect(json.choices[0]!.message.tool_calls).toBeUndefined();
    expect(json.choices[0]!.message.content).toBe("");
    expect(json.choices[0]!.finish_reason).toBe("length");
    let content = "";
    for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
      expect(chunk.choices[0]?.delta.tool_calls).toBeUndefined();
      content += chunk.choices[0]?.delta.content ?? "";
    }
    expect(content).toBe(json.choices[0]!.message.content);
  });

  it("refuses malformed tool requests with 400s naming the field", async () => {
    const param = async (body: Record<string, unknown>) => {
      const error = await client.chat.completions
        .create({ model: "tiny", messages, ...body } as never)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      return (error as InstanceType<typeof OpenAI.BadRequestError>).param;
    };
    expect(await param({ tools: [{ type: "code_interpreter" }] })).toBe("tools.0.type");
    expect(await param({ tools: TOOLS, tool_choice: { type: "function", function: { name: "launch" } } })).toBe(
      "tool_choice",
    );
    expect(await param({ tool_choice: "required" })).toBe("tool_choice");
    const unenforceable = {
      type: "function",
      function: { name: "f", parameters: { type: "object", properties: { a: { type: "string", pattern: "^(?=x)" } } } },
    };
    expect(await param({ tools: [unenforceable], tool_choice: "required" })).toBe("tools.0.function.parameters");
    expect(await param({ tools: TOOLS, tool_choice: "required", response_format: { type: "json_object" } })).toBe(
      "response_format",
    );
  });
});
