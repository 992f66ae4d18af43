import { describe, expect, it } from "vitest";
import { ApiError } from "@slm/config";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { boundedNumbers, GrammarCache, toGbnfSchema } from "./grammar.ts";

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

describe("bounded JSON numbers", () => {
  const schema = {
    type: "object",
    properties: { n: { type: "integer" }, x: { type: "number" } },
    required: ["n", "x"],
  };

  it("gives integers no exponent (1e999 is Infinity, 1e-5 no integer) and other numbers at most two exponent digits", () => {
    const generated = [
      'integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?',
      'fractional-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?',
    ].join("\n");
    expect(boundedNumbers(generated).split("\n")).toEqual([
      'integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15})',
      'fractional-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? ("0" | [1-9] [0-9]?))?',
    ]);
  });

  it("applies to response_format's grammar as to tool arguments, on node-llama-cpp's real output, with its stop trigger", async () => {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
    const cache = new GrammarCache({ llama });
    const grammar = await cache.grammarFor({ type: "json_schema", json_schema: { name: "n", schema } });
    expect(grammar!.grammar).toMatch(/^integer-number-rule ::= "-"\? \("0" \| \[1-9\] \[0-9\]\{0,15\}\)$/m);
    expect(grammar!.grammar).not.toContain("[0-9]{0,15}))?");
    expect(grammar!.stopGenerationTriggers.map(String)).toEqual(["\n\n\n\n"]);
    expect(await cache.schemaGbnf(schema, "tools.0.function.parameters")).toBe(grammar!.grammar);
  });
});
