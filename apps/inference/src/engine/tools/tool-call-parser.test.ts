import { describe, expect, it } from "vitest";
import { readLlamaSourceText } from "@slm/testkit";
import {
  detectToolFormat,
  newToolCallId,
  parseToolCalls,
  ToolCallStream,
  toolFormat,
  toolMessage,
  type ToolFormatName,
} from "./index.ts";

const NAMES = new Set(["get_weather", "get_time"]);
/** Arguments come back as the model wrote them... */
const WEATHER = { name: "get_weather", arguments: '{"city": "Paris"}' };
/** ...or re-serialised when the model wrote the name after them (or wrapped the call): positions are not reliable then. */
const WEATHER_COMPACT = { name: "get_weather", arguments: '{"city":"Paris"}' };

/** Answers as each family writes them (the shapes their templates render for the history). */
const FAMILY_OUTPUTS: ReadonlyArray<[ToolFormatName, string, string, Array<{ name: string; arguments: string }>]> = [
  [
    "hermes",
    "Qwen2.5 / Qwen3",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    [WEATHER],
  ],
  [
    "hermes",
    "Hermes 2 Pro (arguments first)",
    '<tool_call>\n{"arguments": {"city": "Paris"}, "name": "get_weather"}\n</tool_call>',
    [WEATHER_COMPACT],
  ],
  [
    "hermes",
    "parallel calls after text",
    'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "CET"}}\n</tool_call>',
    [WEATHER, { name: "get_time", arguments: '{"tz": "CET"}' }],
  ],
  ["hermes", "closing tag cut off", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}', [WEATHER]],
  ["llama3", "Llama 3.2 JSON", '{"name": "get_weather", "parameters": {"city": "Paris"}}', [WEATHER]],
  [
    "llama3",
    "Llama 3.1 python tag",
    '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
    [WEATHER],
  ],
  [
    "llama3",
    "OpenAI wrapper",
    '{"type": "function", "function": {"name": "get_weather", "parameters": {"city": "Paris"}}}',
    [WEATHER_COMPACT],
  ],
  [
    "hermes",
    "arguments that contain a name",
    '<tool_call>\n{"arguments": {"name": "get_time", "arguments": {"x": 1}}, "name": "get_weather"}\n</tool_call>',
    [{ name: "get_weather", arguments: '{"name":"get_time","arguments":{"x":1}}' }],
  ],
  [
    "mistral",
    "Mistral Nemo",
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1b2c3d4e"}]',
    [WEATHER],
  ],
  ["mistral-args", "Mistral Small 3.2", '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}', [WEATHER]],
  [
    "mistral-args",
    "with a call id",
    '[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{"city": "Paris"}[TOOL_CALLS]get_time[ARGS]{}',
    [WEATHER, { name: "get_time", arguments: "{}" }],
  ],
  ["generic", "tool_call", '{"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}}', [WEATHER]],
  ["generic", "tool_calls", ' {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}', [WEATHER]],
];

/** Feeds the text in pieces of `size` characters and gathers the stream's view. */
function streamed(
  name: ToolFormatName,
  text: string,
  size: number,
  incremental = false,
  options: { maxCalls?: number; cut?: boolean } = {},
) {
  const stream = new ToolCallStream(toolFormat(name), NAMES, incremental, { maxCalls: options.maxCalls });
  let content = "";
  const calls: Array<{ id?: string; name?: string; arguments: string }> = [];
  const take = (delta: ReturnType<ToolCallStream["push"]>) => {
    content += delta.content;
    for (const d of delta.calls) {
      if (d.id !== undefined) {
        expect(d.index).toBe(calls.length);
        expect(d.function.arguments).toBe("");
        calls.push({ id: d.id, name: d.function.name!, arguments: "" });
      } else calls[d.index]!.arguments += d.function.arguments;
    }
  };
  for (let i = 0; i < text.length; i += size) take(stream.push(text.slice(i, i + size)));
  take(stream.end(options.cut));
  return { content, calls: calls.map(({ name, arguments: args }) => ({ name, arguments: args })) };
}

describe("tool call parsing", () => {
  for (const [format, label, text, calls] of FAMILY_OUTPUTS) {
    it(`${format}: ${label}`, () => {
      const parsed = parseToolCalls(toolFormat(format), NAMES, text);
      expect(parsed.calls).toEqual(calls);
      const message = toolMessage(toolFormat(format), parsed);
      expect(message.content).toBe(label === "parallel calls after text" ? "Let me check.\n" : null);
      // The stream gives the same, whatever the piece size (1 = character by character).
      for (const size of [1, 3, 7, 1000])
        expect(streamed(format, text, size)).toEqual({ content: message.content ?? "", calls });
    });
  }

  it("under a grammar, streams a call's name as soon as it is written and its arguments as they are generated", () => {
    const text =
      '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "CET"}}\n</tool_call>';
    const stream = new ToolCallStream(toolFormat("hermes"), NAMES, true);
    const upTo = (marker: string) => stream.push(text.slice(0, text.indexOf(marker) + marker.length)).calls;
    expect(upTo('"arguments": {"ci')).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^call_/),
        type: "function",
        function: { name: "get_weather", arguments: "" },
      },
      { index: 0, function: { arguments: '{"ci' } },
    ]);
    // (push takes new text only: feed the rest from where the last piece ended)
    const fresh = new ToolCallStream(toolFormat("hermes"), NAMES, true);
    const pieces: string[] = [];
    for (let i = 0; i < text.length; i += 4)
      for (const d of fresh.push(text.slice(i, i + 4)).calls) pieces.push(JSON.stringify(d));
    for (const d of fresh.end().calls) pieces.push(JSON.stringify(d));
    expect(pieces.length).toBeGreaterThan(6);
    for (const [format, , output, calls] of FAMILY_OUTPUTS) {
      if (output.includes('"arguments": {"city"') || format === "mistral-args")
        expect(streamed(format, output, 2, true).calls, output).toEqual(calls);
    }
  });

  it("leaves text that looks like a call but is not one as content, in JSON and in the stream", () => {
    const cases: Array<[ToolFormatName, string]> = [
      ["hermes", '<tool_call>\n{"name": "get_weather", "arguments": {"city": }\n</tool_call>'],
      ["hermes", '<tool_call>\n{"name": "launch_rockets", "arguments": {}}\n</tool_call>'],
      ["hermes", "<tool_call> is how I would call a tool"],
      ["hermes", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par'],
      ["llama3", "Use {braces} like this: {x}"],
      ["llama3", '{"answer": 42}'],
      ["mistral", "[TOOL_CALLS] nothing"],
      ["mistral-args", "[TOOL_CALLS]get_weather{oops"],
      ["generic", '{"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}} and more'],
      ["generic", "The answer is {42}."],
    ];
    for (const [format, text] of cases) {
      expect(parseToolCalls(toolFormat(format), NAMES, text), text).toEqual({ content: text, calls: [] });
      for (const size of [1, 5]) expect(streamed(format, text, size), text).toEqual({ content: text, calls: [] });
    }
  });

  it("reads llama.cpp's generic response form as content", () => {
    expect(parseToolCalls(toolFormat("generic"), NAMES, '{"response": "Hello!"}')).toEqual({
      content: "Hello!",
      calls: [],
    });
  });

  it("holds back only what may still become a call", () => {
    const stream = new ToolCallStream(toolFormat("hermes"), NAMES);
    expect(stream.push("Sure, <tool").content).toBe("Sure, ");
    expect(stream.push("tip> is").content).toBe("<tooltip> is");
  });

  it("returns a call cut off by max_tokens as a call with its cut arguments, never as text", () => {
    const cases: Array<[ToolFormatName, string, string, Array<{ name: string; arguments: string }>]> = [
      [
        "hermes",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par',
        "",
        [{ name: "get_weather", arguments: '{"city": "Par' }],
      ],
      [
        "hermes",
        'Let me see.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool',
        "Let me see.\n",
        [WEATHER],
      ],
      [
        "hermes",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arg',
        "",
        [WEATHER],
      ],
      ["hermes", 'Checking.\n<tool_call>\n{"na', "Checking.\n", []],
      // Cut inside the opening marker of a second call: the fragment is markup, not text.
      [
        "hermes",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_cal',
        "",
        [WEATHER],
      ],
      ["hermes", "Checking.\n<tool_", "Checking.\n", []],
      [
        "mistral-args",
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Pa',
        "",
        [{ name: "get_weather", arguments: '{"city": "Pa' }],
      ],
      [
        "generic",
        '{"tool_call": {"name": "get_weather", "arguments": {"city": "P',
        "",
        [{ name: "get_weather", arguments: '{"city": "P' }],
      ],
      // Text cut off is text.
      ["hermes", "The weather in Par", "The weather in Par", []],
    ];
    for (const [format, text, content, calls] of cases) {
      expect(parseToolCalls(toolFormat(format), NAMES, text, { cut: true }), text).toEqual({ content, calls });
      for (const incremental of [false, true])
        for (const size of [1, 4, 1000])
          expect(streamed(format, text, size, incremental, { cut: true }), text).toEqual({ content, calls });
    }
  });

  it("keeps at most maxCalls calls (a named tool_choice, parallel_tool_calls false), dropping what follows", () => {
    const text =
      '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "CET"}}\n</tool_call>';
    expect(parseToolCalls(toolFormat("hermes"), NAMES, text, { maxCalls: 1 })).toEqual({
      content: "",
      calls: [WEATHER],
    });
    const mistral =
      '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {}}]';
    expect(parseToolCalls(toolFormat("mistral"), NAMES, mistral, { maxCalls: 1 }).calls).toEqual([WEATHER]);
    for (const incremental of [false, true])
      for (const size of [1, 5, 1000])
        expect(streamed("hermes", text, size, incremental, { maxCalls: 1 })).toEqual({ content: "", calls: [WEATHER] });
  });

  it("gives OpenAI-style ids, and Mistral's 9 alphanumerics", () => {
    expect(newToolCallId(toolFormat("hermes"))).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(newToolCallId(toolFormat("mistral"))).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(newToolCallId(toolFormat("hermes"))).not.toBe(newToolCallId(toolFormat("hermes")));
  });
});

describe("tool call format from the template", () => {
  const expected: Record<string, ToolFormatName> = {
    "Qwen-Qwen2.5-7B-Instruct.jinja": "hermes",
    "Qwen-Qwen3-0.6B.jinja": "hermes",
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja": "hermes",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": "hermes",
    "meta-llama-Llama-3.1-8B-Instruct.jinja": "llama3",
    "meta-llama-Llama-3.2-3B-Instruct.jinja": "llama3",
    "meta-llama-Llama-3.3-70B-Instruct.jinja": "llama3",
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": "mistral",
    "Mistral-Small-3.2-24B-Instruct-2506.jinja": "mistral-args",
    "unsloth-mistral-Devstral-Small-2507.jinja": "mistral-args",
    "mistralai-Ministral-3-14B-Reasoning-2512.jinja": "mistral-args",
    "Qwen3-Coder.jinja": "generic",
    "microsoft-Phi-3.5-mini-instruct.jinja": "generic",
    "google-gemma-2-2b-it.jinja": "generic",
  };
  for (const [file, format] of Object.entries(expected)) {
    it(`${file}: ${format}`, async () => {
      expect(detectToolFormat(await readLlamaSourceText(`models/templates/${file}`)).name).toBe(format);
    });
  }
});
