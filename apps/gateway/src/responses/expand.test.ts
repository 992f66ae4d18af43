import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { ApiError } from "@slm/config";
import { conversationOf, normalizeInput, referencedIds, referenceId, resolveReferences } from "./expand.ts";
import { GatewayResponseRequest } from "./request-schema.ts";

describe("a request's input, expanded", () => {
  it("turns a string into one user message with an id", () => {
    const [item, ...rest] = normalizeInput("Hi");
    expect(rest).toEqual([]);
    expect(item).toEqual({
      id: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Hi" }],
    });
  });

  it("gives every item an id (keeping given ones), messages a type and text parts, and marks references", () => {
    const items = normalizeInput([
      { role: "system", content: "Be brief." },
      { type: "message", role: "assistant", content: "Hello", id: "msg_given" },
      { type: "function_call", call_id: "call_1", name: "f", arguments: "{}" },
      { type: "function_call_output", call_id: "call_1", output: "42" },
      { type: "item_reference", id: "msg_a" },
      { id: "msg_b" },
      { type: null, id: "msg_c" },
    ]);
    expect(items[0]).toMatchObject({
      type: "message",
      role: "system",
      content: [{ type: "input_text", text: "Be brief." }],
    });
    expect(items[1]).toEqual({
      id: "msg_given",
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text: "Hello", annotations: [] }],
    });
    expect(items[2]!["id"]).toMatch(/^fc_/);
    expect(items[3]!["id"]).toMatch(/^fco_/);
    expect(items.slice(4)).toEqual([
      { type: "item_reference", id: "msg_a" },
      { type: "item_reference", id: "msg_b" },
      { type: "item_reference", id: "msg_c" },
    ]);
    expect(new Set(items.map((item) => item["id"])).size).toBe(items.length);
    expect(referencedIds([...items, { type: "item_reference", id: "msg_a" }])).toEqual(["msg_a", "msg_b", "msg_c"]);
  });

  it("tells a reference from an item that has an id", () => {
    expect(referenceId({ type: "item_reference", id: "x" })).toBe("x");
    expect(referenceId({ id: "x" })).toBe("x");
    expect(referenceId({ id: "x", role: "user", content: "hi" })).toBeUndefined();
    expect(referenceId({ type: "message", id: "x" })).toBeUndefined();
  });

  it("replaces references by the stored items, and names a missing one in a 404 on input", () => {
    const stored = { id: "msg_a", type: "message", role: "assistant", content: [] };
    const items = [
      { type: "item_reference", id: "msg_a" },
      { id: "msg_u", type: "message", role: "user", content: [] },
    ];
    expect(resolveReferences(items, new Map([["msg_a", stored]]))).toEqual([stored, items[1]]);
    let error: unknown;
    try {
      resolveReferences(items, new Map());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).toJSON()).toEqual({
      error: {
        message: expect.stringContaining("Item with id 'msg_a' not found."),
        type: "invalid_request_error",
        param: "input",
        code: "item_not_found",
      },
    });
    expect((error as ApiError).status).toBe(404);
  });

  it("spells a chain as its conversation: each response's input, then its output, oldest first", () => {
    const u1 = { id: "u1" };
    const a1 = { id: "a1" };
    const u2 = { id: "u2" };
    const a2 = { id: "a2" };
    expect(
      conversationOf([
        { input: [u1], response: { output: [a1] } },
        { input: [u2], response: { output: [a2] } },
      ]),
    ).toEqual([u1, a1, u2, a2]);
  });
});

describe("the gateway's Responses request schema", () => {
  it("takes previous_response_id and references beside the shared schema's items", () => {
    const ok = v.safeParse(GatewayResponseRequest, {
      input: [{ role: "user", content: "hi" }, { type: "item_reference", id: "msg_1" }, { id: "msg_2" }],
      previous_response_id: "resp_1",
      store: true,
    });
    expect(ok.success).toBe(true);
    // A message missing its role is not taken for a reference.
    expect(v.safeParse(GatewayResponseRequest, { input: [{ id: "msg_1", content: "hi" }] }).success).toBe(false);
    expect(v.safeParse(GatewayResponseRequest, { input: "x", previous_response_id: "" }).success).toBe(false);
    expect(v.safeParse(GatewayResponseRequest, { input: "x", conversation: "conv_1" }).success).toBe(false);
  });
});
