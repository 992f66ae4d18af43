import { describe, expect, it } from "vitest";
import * as v from "valibot";
import {
  ChatCompletionRequest,
  CompletionRequest,
  EmbeddingRequest,
  expectationMessage,
  invalidRequest,
  ResponseRequest,
} from "../index.ts";

const chat = (extra: Record<string, unknown>) =>
  v.safeParse(
    ChatCompletionRequest,
    { messages: [{ role: "user", content: "x" }], ...extra },
    { message: expectationMessage },
  );
const param = (r: ReturnType<typeof chat>) => (r.success ? null : invalidRequest(r.issues).param);

describe("generation parameters", () => {
  it("accepts every sampling parameter the engine maps", () => {
    const r = chat({
      top_k: 40,
      min_p: 0.05,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      repetition_penalty: 1.1,
      logit_bias: { "42": -100, "7": 3.5 },
      response_format: {
        type: "json_schema",
        json_schema: { name: "answer", schema: { type: "object" }, strict: true },
      },
    });
    expect(r.success).toBe(true);
    expect(r.success && r.output.logit_bias).toEqual({ "42": -100, "7": 3.5 });
  });

  it("keeps requests valid that were valid before", () => {
    const r = chat({
      temperature: 0,
      top_p: 1,
      seed: 3,
      stop: "\n",
      stream: true,
      stream_options: { include_usage: true },
      n: 1,
    });
    expect(r.success).toBe(true);
  });

  it.each([
    ["presence_penalty", { presence_penalty: 3 }],
    ["repetition_penalty", { repetition_penalty: 0 }],
    ["logit_bias.abc", { logit_bias: { abc: 1 } }],
    ["logit_bias.1", { logit_bias: { "1": 101 } }],
    ["response_format.type", { response_format: { type: "yaml" } }],
    ["top_k", { top_k: 1.5 }],
    ["top_logprobs", { top_logprobs: 2 }],
    ["top_logprobs", { logprobs: true, top_logprobs: 21 }],
    ["n", { n: 0 }],
    ["function_call", { function_call: "auto" }],
  ])("names %s when it is out of range or unsupported", (name, extra) => {
    expect(param(chat(extra))).toBe(name);
  });
});

describe("CompletionRequest", () => {
  const parse = (body: unknown) => v.safeParse(CompletionRequest, body, { message: expectationMessage });

  it("takes a string, one-element list or token ids, and defaults max_tokens to 16 like OpenAI", () => {
    const a = parse({ prompt: "Once upon" });
    expect(a.success && a.output).toMatchObject({ prompt: "Once upon", maxTokens: 16 });
    const b = parse({ prompt: ["Once upon"], max_tokens: 5 });
    expect(b.success && b.output).toMatchObject({ prompt: "Once upon", maxTokens: 5 });
    const c = parse({ prompt: [1, 2, 3] });
    expect(c.success && c.output.prompt).toEqual([1, 2, 3]);
    const d = parse({ prompt: [[4, 5]] });
    expect(d.success && d.output.prompt).toEqual([4, 5]);
  });

  it("refuses several prompts, suffix, logprobs and best_of > 1 with a 400 naming the field", () => {
    for (const [body, field] of [
      [{ prompt: ["a", "b"] }, "prompt"],
      [{ prompt: "a", suffix: "z" }, "suffix"],
      [{ prompt: "a", logprobs: 21 }, "logprobs"],
      [{ prompt: "a", best_of: 2 }, "best_of"],
      [{ prompt: "a", n: 1.5 }, "n"],
    ] as const) {
      const r = parse(body);
      expect(r.success).toBe(false);
      expect(invalidRequest(r.success ? [] : r.issues).param).toBe(field);
    }
  });
});

describe("EmbeddingRequest", () => {
  const parse = (body: unknown) => v.safeParse(EmbeddingRequest, body, { message: expectationMessage });

  it("normalises every input form into a list", () => {
    expect(parse({ input: "hi" }).success && parse({ input: "hi" }).output).toMatchObject({ inputs: ["hi"] });
    const list = parse({ input: ["a", "b"], encoding_format: "base64" });
    expect(list.success && list.output.inputs).toEqual(["a", "b"]);
    const tokens = parse({ input: [1, 2] });
    expect(tokens.success && tokens.output.inputs).toEqual([[1, 2]]);
    const lists = parse({ input: [[1], [2, 3]] });
    expect(lists.success && lists.output.inputs).toEqual([[1], [2, 3]]);
  });

  it("refuses empty input", () => {
    expect(parse({ input: "" }).success).toBe(false);
    expect(parse({ input: [] }).success).toBe(false);
  });
});

describe("prompt_cache_key", () => {
  it("is accepted (and kept) by chat, completions and Responses; a non-string is a 400 naming it", () => {
    const key = { prompt_cache_key: "thread-42" };
    const parsed = chat(key);
    expect(parsed.success && parsed.output.prompt_cache_key).toBe("thread-42");
    const completion = v.safeParse(CompletionRequest, { prompt: "x", ...key });
    expect(completion.success && completion.output.prompt_cache_key).toBe("thread-42");
    const response = v.safeParse(ResponseRequest, { input: "x", ...key });
    expect(response.success && response.output.prompt_cache_key).toBe("thread-42");
    expect(param(chat({ prompt_cache_key: 42 }))).toBe("prompt_cache_key");
    expect(param(chat({ prompt_cache_key: "x".repeat(1025) }))).toBe("prompt_cache_key");
    expect(chat({ prompt_cache_key: null }).success).toBe(true);
  });
});
