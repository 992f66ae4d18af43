import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { ApiError, ResponseRequest, type ResponseRequestInput } from "@slm/config";
import { toChatRequest } from "./to-chat-request.ts";

const chat = (input: ResponseRequestInput) => toChatRequest(v.parse(ResponseRequest, input));

describe("a Responses request as a chat request", () => {
  it("puts instructions first, takes message items and text parts, and maps the generation fields", () => {
    const request = chat({
      instructions: "Be brief.",
      input: [
        {
          role: "user",
          content: [
            { type: "input_text", text: "Hi" },
            { type: "input_text", text: "there" },
          ],
        },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hello!" }] },
        { role: "developer", content: "Use French." },
      ],
      max_output_tokens: 7,
      temperature: 0.5,
      top_p: 0.9,
      text: { format: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true } },
      include: ["message.output_text.logprobs"],
      top_logprobs: 3,
    });
    expect(request.messages).toEqual([
      { role: "system", content: "Be brief." },
      {
        role: "user",
        content: [
          { type: "text", text: "Hi" },
          { type: "text", text: "there" },
        ],
      },
      { role: "assistant", content: [{ type: "text", text: "Hello!" }] },
      { role: "developer", content: "Use French." },
    ]);
    expect(request).toMatchObject({
      maxTokens: 7,
      temperature: 0.5,
      top_p: 0.9,
      response_format: {
        type: "json_schema",
        json_schema: { name: "answer", schema: { type: "object" }, strict: true },
      },
      logprobs: true,
      top_logprobs: 3,
    });
  });

  it("turns consecutive function_call items into one assistant turn with tool_calls, and outputs into tool messages", () => {
    const request = chat({
      input: [
        { role: "user", content: "Weather in Paris and Rome?" },
        { type: "function_call", call_id: "call_a", name: "get_weather", arguments: '{"city":"Paris"}' },
        { type: "function_call", call_id: "call_b", name: "get_weather", arguments: '{"city":"Rome"}' },
        { type: "function_call_output", call_id: "call_a", output: "21C" },
        { type: "function_call_output", call_id: "call_b", output: [{ type: "input_text", text: "25C" }] },
        { type: "reasoning", id: "rs_1" },
      ],
      tools: [{ type: "function", name: "get_weather", parameters: { type: "object" }, strict: false }],
      tool_choice: { type: "function", name: "get_weather" },
    });
    expect(request.messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
          { id: "call_b", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_a", content: "21C" },
      { role: "tool", tool_call_id: "call_b", content: "25C" },
    ]);
    expect(request.tools).toEqual([
      { type: "function", function: { name: "get_weather", parameters: { type: "object" }, strict: false } },
    ]);
    expect(request.tool_choice).toEqual({ type: "function", function: { name: "get_weather" } });
  });

  it("refuses what the Responses schema or the chat path cannot honour", () => {
    expect(v.safeParse(ResponseRequest, { input: "x", previous_response_id: "resp_1" }).success).toBe(false);
    expect(v.safeParse(ResponseRequest, { input: "x", tools: [{ type: "file_search" }] }).success).toBe(false);
    // Valid for the Responses schema; the chat path's rules refuse it (a required call with no tools): a 400.
    const error = (() => {
      try {
        chat({ input: "x", tool_choice: "required" });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
  });
});
