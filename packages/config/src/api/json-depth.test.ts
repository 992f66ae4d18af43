import * as v from "valibot";
import { describe, expect, it } from "vitest";
import {
  ChatCompletionRequest,
  expectationMessage,
  invalidRequest,
  jsonTextDeeperThan,
  jsonValueDeeperThan,
  ResponseRequest,
} from "../index.ts";

/** `[[[...0...]]]`, `depth` arrays deep, parsed (JSON.parse itself is iterative enough for this). */
const deepArray = (depth: number): unknown => JSON.parse(`${"[".repeat(depth)}0${"]".repeat(depth)}`);

describe("jsonTextDeeperThan", () => {
  it("counts brackets outside strings only, escapes included", () => {
    expect(jsonTextDeeperThan("{}", 1)).toBe(false);
    expect(jsonTextDeeperThan('{"a":[{}]}', 2)).toBe(true);
    expect(jsonTextDeeperThan('{"a":[{}]}', 3)).toBe(false);
    expect(jsonTextDeeperThan(`{"a":"${"[".repeat(100)}"}`, 2)).toBe(false);
    expect(jsonTextDeeperThan(`{"a":"\\"${"[".repeat(100)}"}`, 2)).toBe(false);
    expect(jsonTextDeeperThan(`{"a":"\\\\", "b":${"[".repeat(10)}${"]".repeat(10)}}`, 5)).toBe(true);
    expect(jsonTextDeeperThan("[".repeat(20_000) + "]".repeat(20_000), 64)).toBe(true);
  });
});

describe("jsonValueDeeperThan", () => {
  it("measures a parsed value without recursing", () => {
    expect(jsonValueDeeperThan("x", 0)).toBe(false);
    expect(jsonValueDeeperThan({ a: [1, { b: 2 }] }, 3)).toBe(false);
    expect(jsonValueDeeperThan({ a: [1, { b: {} }] }, 3)).toBe(true);
    expect(jsonValueDeeperThan(deepArray(20_000), 64)).toBe(true);
  });
});

describe("the shared request schemas on 20,000-deep JSON", () => {
  const messages = [{ role: "user", content: "hi" }];
  const parseChat = (body: unknown) => v.safeParse(ChatCompletionRequest, body, { message: expectationMessage });

  it("refuses deep chat_template_kwargs with an issue naming the limit, never a RangeError", () => {
    const result = parseChat({ messages, chat_template_kwargs: { x: deepArray(20_000) } });
    expect(result.success).toBe(false);
    const error = invalidRequest(result.success ? [] : result.issues);
    expect(error.param).toBe("chat_template_kwargs");
    expect(error.message).toContain("at most 64 levels");
  });

  it("refuses deep tool parameters in chat and Responses requests", () => {
    const parameters = { type: "object", properties: { x: deepArray(20_000) } };
    const chat = parseChat({ messages, tools: [{ type: "function", function: { name: "f", parameters } }] });
    expect(chat.success).toBe(false);
    expect(invalidRequest(chat.success ? [] : chat.issues).param).toBe("tools.0.function.parameters");
    const responses = v.safeParse(
      ResponseRequest,
      { input: "hi", tools: [{ type: "function", name: "f", parameters }] },
      { message: expectationMessage },
    );
    expect(responses.success).toBe(false);
    expect(invalidRequest(responses.success ? [] : responses.issues).param).toBe("tools.0.parameters");
  });

  it("still accepts ordinary nesting", () => {
    const parameters = { type: "object", properties: { a: { type: "array", items: { type: "object" } } } };
    const chat = parseChat({
      messages,
      tools: [{ type: "function", function: { name: "f", parameters } }],
      chat_template_kwargs: { enable_thinking: false, nested: [[{ a: 1 }]] },
    });
    expect(chat.success).toBe(true);
  });
});
