import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { generateTinyLlama, readLlamaSourceText } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FunctionTool } from "@slm/config";
import { generate } from "../src/engine/generate.ts";
import { loadEngine, type Engine } from "../src/engine/load-engine.ts";
import { prepareChat } from "../src/engine/prepare-chat.ts";
import { chooseChatTemplate } from "../src/engine/prompt/index.ts";
import { startLlama } from "../src/engine/start-llama.ts";
import { parseToolCalls, type ToolFormatName } from "../src/engine/tools/index.ts";

/**
 * Each family's call syntax, written by a real (tiny, random-weight) model under the forced-call grammar and read
 * back by the family's parser: the model's raw output must be in the family's syntax, parse into the right
 * `tool_calls`, and carry arguments that validate against the function's schema. In process: one model, the
 * family's template for each case.
 */
const TOOLS: FunctionTool[] = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather for a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string", maxLength: 12 }, unit: { enum: ["C", "F"] }, days: { type: "integer" } },
        required: ["city", "unit", "days"],
        additionalProperties: false,
      },
    },
  },
  {
    type: "function",
    function: {
      name: "get_time",
      parameters: { type: "object", properties: { tz: { type: "string", maxLength: 8 } }, required: ["tz"] },
    },
  },
];

const FAMILIES: ReadonlyArray<{ template: string; format: ToolFormatName; syntax: RegExp }> = [
  {
    template: "Qwen-Qwen2.5-7B-Instruct.jinja",
    format: "hermes",
    syntax: /^<tool_call>\n\{"name": "get_weather", "arguments": \{.*\}\}\n<\/tool_call>$/s,
  },
  {
    template: "Qwen-Qwen3-0.6B.jinja",
    format: "hermes",
    syntax: /^<tool_call>\n\{"name": "get_weather", "arguments": \{.*\}\}\n<\/tool_call>$/s,
  },
  {
    template: "meta-llama-Llama-3.2-3B-Instruct.jinja",
    format: "llama3",
    syntax: /^\{"name": "get_weather", "parameters": \{.*\}\}$/s,
  },
  {
    template: "mistralai-Mistral-Nemo-Instruct-2407.jinja",
    format: "mistral",
    syntax: /^\[TOOL_CALLS\]\[\{"name": "get_weather", "arguments": \{.*\}\}\]$/s,
  },
  {
    template: "Mistral-Small-3.2-24B-Instruct-2506.jinja",
    format: "mistral-args",
    syntax: /^\[TOOL_CALLS\]get_weather\[ARGS\]\{.*\}$/s,
  },
  {
    template: "microsoft-Phi-3.5-mini-instruct.jinja",
    format: "generic",
    syntax: /^\{"tool_call": \{"name": "get_weather", "arguments": \{.*\}\}\}$/s,
  },
];

let engine: Engine;
let dir: string;
const validate = new Ajv().compile(TOOLS[0]!.function.parameters!);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tool-families-"));
  const modelPath = join(dir, "tiny.gguf");
  await writeFile(modelPath, generateTinyLlama({ seed: 5, contextLength: 2048 }));
  engine = await loadEngine({
    llama: await startLlama(1),
    modelPath,
    threads: 1,
    contextSize: 2048,
    parallel: 1,
    maxQueue: 1,
    embeddings: false,
  });
}, 60_000);
afterAll(async () => {
  await engine?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("each family's call syntax, forced by the grammar and parsed back", () => {
  for (const family of FAMILIES) {
    it(`${family.template}: ${family.format}`, async () => {
      const text = await readLlamaSourceText(`models/templates/${family.template}`);
      const template = chooseChatTemplate({
        ggufTemplate: text,
        bosToken: "<s>",
        eosToken: "</s>",
        addBos: true,
        addEos: false,
      });
      for (const seed of [1, 2]) {
        const prepared = await prepareChat(engine, template, {
          messages: [{ role: "user", content: "Weather in Paris?" }],
          tools: TOOLS,
          tool_choice: { type: "function", function: { name: "get_weather" } },
          parallel_tool_calls: false,
          // A random model would think forever: Qwen3 answers with thinking off (the prompt closes the section).
          chat_template_kwargs: family.format === "hermes" ? { enable_thinking: false } : undefined,
          temperature: 1,
          seed,
          maxTokens: 400,
        });
        expect(prepared.tools?.format.name).toBe(family.format);
        const result = await engine.pool.with(undefined, (sequence) => generate(sequence, prepared));
        expect(result.finishReason).toBe("stop");
        expect(result.text).toMatch(family.syntax);
        const parsed = parseToolCalls(prepared.tools!.format, prepared.tools!.names, result.text);
        expect(parsed.calls.map((c) => c.name)).toEqual(["get_weather"]);
        expect(validate(JSON.parse(parsed.calls[0]!.arguments)), parsed.calls[0]!.arguments).toBe(true);
      }
    }, 60_000);
  }

  it("`required` with parallel calls allowed writes one or more calls to offered functions", async () => {
    const template = chooseChatTemplate({
      ggufTemplate: await readLlamaSourceText("models/templates/Qwen-Qwen2.5-7B-Instruct.jinja"),
      bosToken: "",
      eosToken: "",
      addBos: false,
      addEos: false,
    });
    const prepared = await prepareChat(engine, template, {
      messages: [{ role: "user", content: "Time?" }],
      tools: TOOLS,
      tool_choice: "required",
      temperature: 1,
      seed: 3,
      maxTokens: 600,
    });
    const result = await engine.pool.with(undefined, (sequence) => generate(sequence, prepared));
    const parsed = parseToolCalls(prepared.tools!.format, prepared.tools!.names, result.text);
    expect(parsed.calls.length).toBeGreaterThanOrEqual(1);
    expect(parsed.content).toBe("");
  }, 60_000);
});
