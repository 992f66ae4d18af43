import { describe, expect, it } from "vitest";
import { ApiError } from "@slm/config";
import { toGbnfSchema } from "./grammar.ts";

describe("toGbnfSchema", () => {
  it("keeps enforceable keywords, drops annotations, maps anyOf and definitions", () => {
    const out = toGbnfSchema({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      title: "Answer",
      type: "object",
      properties: {
        kind: { anyOf: [{ const: "a" }, { $ref: "#/definitions/b" }], description: "which" },
        when: { type: "string", format: "date" },
      },
      required: ["kind"],
      additionalProperties: false,
      definitions: { b: { type: "integer" } },
    });
    expect(out).toEqual({
      type: "object",
      properties: {
        kind: { oneOf: [{ const: "a" }, { $ref: "#/$defs/b" }] },
        when: { type: "string", format: "date" },
      },
      required: ["kind"],
      additionalProperties: false,
      $defs: { b: { type: "integer" } },
    });
  });

  it("splits a type list with object or array into alternatives the generator understands", () => {
    expect(toGbnfSchema({ type: ["object", "null"], properties: { a: { type: "boolean" } } })).toEqual({
      oneOf: [{ type: "object", properties: { a: { type: "boolean" } } }, { type: "null" }],
    });
  });

  it.each([
    [{ type: "string", pattern: "^a$" }, /"pattern" cannot be enforced/],
    [{ type: "integer", minimum: 3 }, /"minimum" cannot be enforced/],
    [{ type: "string", format: "email" }, /format "email" cannot be enforced/],
    [{ allOf: [{ type: "string" }] }, /"allOf" cannot be enforced/],
    [{ type: "object", properties: {}, required: ["x"] }, /required property "x" is not declared/],
    [{ $ref: "https://example.com/s.json" }, /only local references/],
    [{ type: "object", properties: { a: { type: "date" } } }, /at schema\.properties\.a, type must be/],
  ])("refuses what the grammar cannot enforce: %j", (schema, message) => {
    let error: unknown;
    try {
      toGbnfSchema(schema);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).param).toBe("response_format.json_schema.schema");
    expect((error as ApiError).message).toMatch(message);
  });
});
