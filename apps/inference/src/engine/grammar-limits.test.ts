import { describe, expect, it } from "vitest";
import { ApiError } from "@slm/config";
import { checkSchemaLimits, DEFAULT_GRAMMAR_LIMITS, jsonBytes, showPath } from "./grammar-limits.ts";

describe("jsonBytes", () => {
  it.each([
    ["a schema", { type: "object", properties: { naïve: { enum: ["é", 1.5, -0, 1e21, true, null] } }, required: [] }],
    ["control characters and a lone surrogate", { const: '\u0000\ud800\n"\\' }],
    ["empty containers", { a: [], b: {}, c: [[], {}] }],
  ])("is the UTF-8 length of compact JSON.stringify: %s", (_, value) => {
    expect(jsonBytes(value)).toBe(Buffer.byteLength(JSON.stringify(value)));
  });

  it("counts any depth without recursing, and stops early past a bound", () => {
    let deep: unknown = "x";
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(jsonBytes(deep)).toBe(200_000 * 2 + 3);
    expect(jsonBytes({ a: "y".repeat(10_000), b: "z".repeat(10_000) }, 100)).toBeGreaterThan(100);
  });
});

describe("checkSchemaLimits", () => {
  const refusal = (schema: unknown, limits = DEFAULT_GRAMMAR_LIMITS) => {
    try {
      checkSchemaLimits(schema, "p", limits);
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      return error as ApiError;
    }
    return undefined;
  };

  it("refuses 200,000-deep nesting at the first level past the limit, without recursing", () => {
    let deep: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 200_000; i++) deep = { type: "object", properties: { a: deep } };
    const error = refusal(deep, { ...DEFAULT_GRAMMAR_LIMITS, maxDepth: 3 });
    expect(error?.code).toBe("schema_too_large");
    expect(error?.message).toBe(
      "p.properties.a.properties.a.properties.a: nested more than 3 levels deep, the most this server allows.",
    );
  });

  it("counts $defs, items, anyOf and additionalProperties as levels", () => {
    const schema = {
      $defs: { d: { type: "array", items: { anyOf: [{ type: "object", additionalProperties: { type: "string" } }] } } },
    };
    expect(refusal(schema, { ...DEFAULT_GRAMMAR_LIMITS, maxDepth: 5 })).toBeUndefined();
    expect(refusal(schema, { ...DEFAULT_GRAMMAR_LIMITS, maxDepth: 4 })?.message).toMatch(
      /^p\.\$defs\.d\.items\.anyOf\.0\.additionalProperties: nested more than 4/,
    );
  });

  it("accepts each limit exactly, refuses one past it", () => {
    const limits = { maxSchemaBytes: 2000, maxDepth: 32, maxEnum: 3, maxRepeat: 10 };
    expect(refusal({ enum: [1, 2, 3], maxLength: 10 }, limits)).toBeUndefined();
    expect(refusal({ enum: [1, 2, 3, 4] }, limits)?.message).toBe(
      "p.enum: 4 values is more than this server allows in one place (3).",
    );
    expect(refusal({ type: "array", minItems: 11 }, limits)?.message).toMatch(
      /^p\.minItems: 11 is more than this server allows \(10\)/,
    );
    const big = { type: "string", description: "d".repeat(1960) };
    expect(jsonBytes(big)).toBeLessThanOrEqual(2000);
    expect(refusal(big, limits)).toBeUndefined();
    expect(refusal({ ...big, title: "t" }, limits)?.message).toMatch(/^p: more than 2000 bytes of JSON/);
  });

  it("counts declared properties across the whole schema", () => {
    const props = (n: number, prefix: string) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, { type: "null" }]));
    const schema = (n: number) => ({
      type: "object",
      properties: { ...props(n, "a"), o: { type: "object", properties: props(500, "b") } },
    });
    expect(refusal(schema(499))).toBeUndefined();
    expect(refusal(schema(500))?.message).toMatch(/more than 1000 declared properties/);
  });

  it("shows long names shortened in a path", () => {
    expect(showPath("p", ["properties", "n".repeat(100)])).toBe(`p.properties.${"n".repeat(61)}...`);
  });
});
