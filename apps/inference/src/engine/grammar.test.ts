import { beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "@slm/config";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { GrammarCache } from "./grammar.ts";

describe("GrammarCache with our converter", () => {
  const schema = {
    type: "object",
    properties: { n: { type: "integer" }, x: { type: "number" } },
    required: ["n", "x"],
  };

  it("gives response_format's grammar and tool arguments the same GBNF, with node-llama-cpp's stop trigger", async () => {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
    const cache = new GrammarCache({ llama });
    const grammar = await cache.grammarFor({ type: "json_schema", json_schema: { name: "n", schema } });
    expect(grammar!.grammar).toMatch(/^integer ::= "-"\? \(\[0\] \| \[1-9\] \[0-9\]\{0,15\}\)$/m);
    expect(grammar!.grammar).toMatch(/^root ::= .* "\\n\\n\\n\\n" \[\\n\]\*$/m);
    expect(grammar!.stopGenerationTriggers.map(String)).toEqual(["\n\n\n\n"]);
    expect(await cache.schemaGbnf(schema, "tools.0.function.parameters")).toBe(grammar!.grammar);
  });

  it("refuses what the grammar cannot enforce with a 400 naming the parameter and the path", async () => {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
    const cache = new GrammarCache({ llama });
    const error = await cache
      .grammarFor({
        type: "json_schema",
        json_schema: {
          name: "x",
          schema: { type: "object", properties: { a: { type: "string", pattern: "^(?=x)" } } },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe("unsupported_schema");
    expect((error as ApiError).message).toMatch(
      /^response_format\.json_schema\.schema\.properties\.a\.pattern: lookahead/,
    );
  });
});

describe("hostile schemas (issue 22): a 400 naming the schema path and the limit, never a 500 or a stall", () => {
  const PARAM = "response_format.json_schema.schema";
  const at = (path: string) => `${PARAM}${path}`;
  let deep: Record<string, unknown> = { type: "string" };
  for (let i = 0; i < 5000; i++) deep = { type: "array", items: deep };
  const values = (n: number) => Array.from({ length: n }, (_, i) => `value-number-${i}-abcdef`);
  const tree = {
    $ref: "#/$defs/node",
    $defs: {
      node: {
        type: "object",
        properties: { name: { type: "string" }, children: { type: "array", items: { $ref: "#/$defs/node" } } },
      },
    },
  };

  let cache: GrammarCache;
  beforeAll(async () => {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
    cache = new GrammarCache({ llama });
  });
  const refusal = async (schema: Record<string, unknown>) => {
    const error = await cache.grammarFor({ type: "json_schema", json_schema: { name: "x", schema } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, "expected a refusal").toBeInstanceOf(ApiError);
    return error as ApiError;
  };

  it.each([
    ["minLength 500, maxLength 1500", { type: "string", minLength: 500, maxLength: 1500 }, at(".maxLength"), "500"],
    ["maxItems 1999", { type: "array", items: { type: "string" }, maxItems: 1999 }, at(".maxItems"), "500"],
    ["minItems 1e9", { type: "array", items: { type: "string" }, minItems: 1e9 }, at(".minItems"), "500"],
    ["maxLength 1e9 (llama.cpp would drop the bound)", { type: "string", maxLength: 1e9 }, at(".maxLength"), "500"],
    [
      "a nested maxProperties",
      { type: "object", properties: { o: { type: "object", additionalProperties: true, maxProperties: 5000 } } },
      at(".properties.o.maxProperties"),
      "500",
    ],
    ["5,000-deep nesting", deep, at(".items".repeat(32)), "32"],
    ["a 50,000-value enum (933 KB)", { enum: values(50_000) }, at(".enum"), "1000"],
    [
      "1,001 alternatives through anyOf and $ref",
      { anyOf: [{ $ref: "#/$defs/e" }, { const: "x" }], $defs: { e: { enum: values(1000) } } },
      at(".anyOf"),
      "1000",
    ],
    [
      "100 KB of schema",
      { type: "object", properties: { a: { type: "string", description: "d".repeat(100_000) } } },
      PARAM,
      "65536",
    ],
  ])("%s: schema_too_large", async (_, schema, path, limit) => {
    const error = await refusal(schema);
    expect(error.status).toBe(400);
    expect(error.type).toBe("invalid_request_error");
    expect(error.code).toBe("schema_too_large");
    expect(error.param).toBe(PARAM);
    expect(error.message.startsWith(`${path}:`), error.message).toBe(true);
    expect(error.message).toContain(limit);
  });

  it.each([
    ["a $ref to itself", { $ref: "#/$defs/a", $defs: { a: { $ref: "#/$defs/a" } } }, at(".$defs.a")],
    [
      "left recursion through anyOf",
      { $ref: "#/$defs/a", $defs: { a: { anyOf: [{ $ref: "#/$defs/a" }, { type: "string" }] } } },
      at(".$defs.a"),
    ],
    [
      "a recursion every value must take (through a required property)",
      {
        type: "object",
        properties: { child: { $ref: "#/$defs/node" } },
        $defs: { node: { type: "object", properties: { child: { $ref: "#/$defs/node" } }, required: ["child"] } },
      },
      at(".$defs.node"),
    ],
    ["a $ref to no definition", { type: "object", properties: { a: { $ref: "#/$defs/nope" } } }, at(".properties.a")],
    ["a pattern with a lookahead", { type: "string", pattern: "^(?!a)" }, at(".pattern")],
    ["multipleOf 3", { type: "integer", multipleOf: 3 }, at(".multipleOf")],
    ["a fractional maxLength", { type: "string", maxLength: 1.5 }, at(".maxLength")],
    ["minLength above maxLength", { type: "string", minLength: 5, maxLength: 2 }, at(".minLength")],
    [
      "maxProperties below the required properties",
      {
        type: "object",
        properties: { a: { type: "string" }, b: { type: "string" } },
        required: ["a", "b"],
        maxProperties: 1,
      },
      at(".maxProperties"),
    ],
    [
      "$defs below the root",
      { type: "object", properties: { a: { $ref: "#/$defs/b", $defs: { b: { type: "string" } } } } },
      at(".properties.a.$defs"),
    ],
  ])("%s: unsupported_schema", async (_, schema, path) => {
    const error = await refusal(schema);
    expect(error.status).toBe(400);
    expect(error.code).toBe("unsupported_schema");
    expect(error.param).toBe(PARAM);
    expect(error.message.startsWith(`${path}:`), error.message).toBe(true);
  });

  it("names the tool's parameters in the path for a tool schema", async () => {
    const error = await cache
      .schemaGbnf(
        { type: "object", properties: { q: { type: "string", maxLength: 1e9 } } },
        "tools.3.function.parameters",
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).param).toBe("tools.3.function.parameters");
    expect((error as ApiError).message).toMatch(/^tools\.3\.function\.parameters\.properties\.q\.maxLength: /);
  });

  it("serves what the limits allow: a 1,000-value enum, maxLength 500, a recursive tree with a way out", async () => {
    const grammarOf = (schema: Record<string, unknown>) =>
      cache.grammarFor({ type: "json_schema", json_schema: { name: "x", schema } });
    // The generated grammar ends with node-llama-cpp's stop trigger (four newlines).
    const testText = (grammar: unknown, text: string) =>
      (grammar as { _testText(text: string): boolean })._testText(`${text}\n\n\n\n`);
    const big = await grammarOf({ enum: values(1000) });
    expect(testText(big, '"value-number-999-abcdef"')).toBe(true);
    expect(testText(big, '"value-number-1000-abcdef"')).toBe(false);
    const bounded = await grammarOf({ type: "string", minLength: 2, maxLength: 500 });
    expect(testText(bounded, JSON.stringify("x".repeat(500)))).toBe(true);
    expect(testText(bounded, JSON.stringify("x".repeat(501)))).toBe(false);
    const recursive = await grammarOf(tree);
    expect(testText(recursive, '{"name": "a", "children": [{"name": "b", "children": []}]}')).toBe(true);
  });

  it("escapes NUL and other control characters of const, enum and property names as JSON does (never cut)", async () => {
    const value = 'a\u0000b\u0001c\u001f\u007fd\b\f\t\n"\\';
    const name = "k\u0000\u0002";
    const grammar = await cache.grammarFor({
      type: "json_schema",
      json_schema: {
        name: "x",
        schema: {
          type: "object",
          properties: { [name]: { const: value }, e: { enum: [value, "\u0003"] } },
          required: [name, "e"],
        },
      },
    });
    const text = grammar!.grammar;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: that no control character is left raw is the point
    expect(text).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    const testText = (t: string) =>
      (grammar as unknown as { _testText(text: string): boolean })._testText(`${t}\n\n\n\n`);
    expect(testText(JSON.stringify({ [name]: value, e: "\u0003" }))).toBe(true);
    expect(testText(JSON.stringify({ [name]: value, e: value }))).toBe(true);
    expect(testText(JSON.stringify({ [name]: "a", e: value }))).toBe(false);
  });

  it("caches compiled grammars by the schema's canonical text: key order and annotations do not matter", async () => {
    const a = await cache.grammarFor({
      type: "json_schema",
      json_schema: { name: "x", schema: { type: "object", properties: { p: { type: "string", maxLength: 9 } } } },
    });
    const b = await cache.grammarFor({
      type: "json_schema",
      json_schema: {
        name: "y",
        schema: { properties: { p: { maxLength: 9, type: "string", title: "P" } }, description: "d", type: "object" },
      },
    });
    expect(b).toBe(a);
    const reordered = await cache.grammarFor({
      type: "json_schema",
      json_schema: {
        name: "x",
        schema: { type: "object", properties: { q: { type: "string" }, p: { type: "string", maxLength: 9 } } },
      },
    });
    expect(reordered).not.toBe(a); // property order is the order the grammar writes them
  });
});
