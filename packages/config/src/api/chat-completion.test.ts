import { describe, expect, it } from "vitest";
import * as v from "valibot";
import { ChatCompletionRequest, expectationMessage, invalidRequest, messageText } from "../index.ts";

const parse = (body: unknown) => v.safeParse(ChatCompletionRequest, body, { message: expectationMessage });

describe("ChatCompletionRequest", () => {
  it("accepts an OpenAI request and derives maxTokens (max_completion_tokens wins)", () => {
    const r = parse({
      model: "m",
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
      max_tokens: 5,
      max_completion_tokens: 7,
      stop: ["\n"],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(r.success).toBe(true);
    expect(r.success && r.output.maxTokens).toBe(7);
  });

  it("accepts tools, chat_template_kwargs and reasoning_format; bounds chat_template_kwargs", () => {
    const tools = [{ type: "function", function: { name: "lookup_order", parameters: { type: "object" } } }];
    const ok = parse({
      messages: [{ role: "user", content: "hi" }],
      tools,
      chat_template_kwargs: { enable_thinking: false },
      reasoning_format: "none",
    });
    expect(ok.success).toBe(true);
    const tooBig = parse({
      messages: [{ role: "user", content: "hi" }],
      chat_template_kwargs: { pad: "x".repeat(4096) },
    });
    expect(tooBig.success).toBe(false);
    expect(invalidRequest(tooBig.success ? [] : tooBig.issues).param).toBe("chat_template_kwargs");
    const shadowing = parse({ messages: [{ role: "user", content: "hi" }], chat_template_kwargs: { bos_token: "" } });
    expect(shadowing.success).toBe(false);
  });

  it("accepts OpenAI's tool fields: tool_choice forms, assistant tool_calls with null content, tool results", () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
    const messages = [
      { role: "user", content: "weather?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
    ];
    for (const tool_choice of ["none", "auto", "required", { type: "function", function: { name: "get_weather" } }]) {
      expect(parse({ messages, tools, tool_choice, parallel_tool_calls: false }).success).toBe(true);
    }
  });

  it("refuses tool fields OpenAI refuses, naming the field", () => {
    const tools = [{ type: "function", function: { name: "get_weather" } }];
    const user = { role: "user", content: "x" };
    const param = (body: unknown) => {
      const r = parse(body);
      return r.success ? undefined : invalidRequest(r.issues).param;
    };
    expect(param({ messages: [user], tools, tool_choice: { type: "function", function: { name: "other" } } })).toBe(
      "tool_choice",
    );
    expect(param({ messages: [user], tool_choice: "required" })).toBe("tool_choice");
    expect(param({ messages: [user], tools: [{ type: "retrieval", function: { name: "x" } }] })).toBe("tools.0.type");
    expect(param({ messages: [{ role: "tool", content: "r" }] })).toBe("messages.0");
    expect(param({ messages: [{ role: "assistant", content: null }] })).toBe("messages.0");
    expect(
      param({
        messages: [
          {
            role: "user",
            content: "x",
            tool_calls: [{ id: "a", type: "function", function: { name: "f", arguments: "{}" } }],
          },
        ],
      }),
    ).toBe("messages.0");
  });

  it("joins text parts with a newline, as llama-server does", () => {
    const parts = (texts: string[]) => messageText({ content: texts.map((text) => ({ type: "text" as const, text })) });
    expect(parts(["A", "B"])).toBe("A\nB");
    expect(parts(["", "B"])).toBe("B");
    expect(parts(["A", ""])).toBe("A\n");
  });

  it("names the offending field and never echoes the value", () => {
    const r = parse({ messages: [{ role: "wizard", content: "secret-prompt" }], temperature: 9 });
    expect(r.success).toBe(false);
    const error = invalidRequest(r.success ? [] : r.issues);
    expect(error.status).toBe(400);
    expect(error.param).toBe("messages.0.role");
    expect(error.message).toContain("temperature");
    expect(error.message).not.toContain("wizard");
  });

  it("refuses what it does not implement instead of ignoring it", () => {
    expect(parse({ messages: [{ role: "user", content: "x" }], n: 0 }).success).toBe(false);
    expect(parse({ messages: [{ role: "user", content: "x" }], n: 3, logprobs: true, top_logprobs: 20 }).success).toBe(
      true,
    );
    expect(parse({ messages: [{ role: "user", content: "x" }], tools: [{}] }).success).toBe(false);
    expect(parse({ messages: [] }).success).toBe(false);
  });
});
