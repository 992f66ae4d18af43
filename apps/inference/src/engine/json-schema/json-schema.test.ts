import { ApiError } from "@slm/config";
import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_GRAMMAR_LIMITS } from "../grammar-limits.ts";
import { corpus } from "./corpus/index.ts";
import { jsonSchemaToGbnf } from "./index.ts";
import { integerRange, numberRange } from "./ranges.ts";

/**
 * The converter's grammars, parsed by llama.cpp (a real LlamaGrammar) and probed with texts: what each schema
 * construct lets through and what it refuses. Compared with llama.cpp's json-schema-to-grammar.cpp in the report.
 */
const PARAM = "response_format.json_schema.schema";
let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
});

const gbnfOf = (schema: unknown) => jsonSchemaToGbnf(schema, PARAM, DEFAULT_GRAMMAR_LIMITS);

/** A tester: whether the grammar accepts `text` as a whole answer (the JSON, then its four-newline trailer). */
async function accepts(schema: unknown): Promise<(value: unknown) => boolean> {
  const grammar = await llama.createGrammar({ grammar: gbnfOf(schema) });
  return (value) =>
    (grammar as unknown as { _testText(t: string): boolean })._testText(
      `${typeof value === "string" && value.startsWith("RAW:") ? value.slice(4) : JSON.stringify(value)}\n\n\n\n`,
    );
}

function refusal(schema: unknown): ApiError {
  try {
    gbnfOf(schema);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error("expected a refusal");
}

describe("integer bounds (digit ranges, as llama.cpp's build_min_max_int)", () => {
  it.each([
    [0n, 120n],
    [-15n, 7n],
    [-300n, -12n],
    [5n, undefined],
    [undefined, -3n],
    [undefined, 42n],
    [99n, 1001n],
  ])("[%s, %s]: exactly the integers in range, checked one by one", async (min, max) => {
    const test = await accepts({
      type: "integer",
      ...(min !== undefined ? { minimum: Number(min) } : {}),
      ...(max !== undefined ? { maximum: Number(max) } : {}),
    });
    for (let n = -1200; n <= 1200; n++) {
      const inside = (min === undefined || n >= min) && (max === undefined || n <= max);
      expect(test(n), String(n)).toBe(inside);
    }
    expect(test("RAW:007")).toBe(false); // no leading zeros
  });

  it("takes ±(2^53-1) (zod's .int()) and exclusive bounds, in a small grammar", async () => {
    const safe = Number.MAX_SAFE_INTEGER;
    const expr = integerRange(BigInt(-safe), BigInt(safe))!;
    expect(expr.length).toBeLessThan(1500);
    const test = await accepts({ type: "integer", minimum: -safe, maximum: safe });
    for (const ok of [0, -1, safe, -safe, 1234567890123456, 9007199254740990]) expect(test(ok), String(ok)).toBe(true);
    for (const no of ["RAW:9007199254740992", "RAW:-9007199254740992", "RAW:10000000000000000", "RAW:1.5"])
      expect(test(no), no).toBe(false);
    const exclusive = await accepts({ type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 10 });
    expect([0, 1, 9, 10].map(exclusive)).toEqual([false, true, true, false]);
    const fractional = await accepts({ type: "integer", minimum: 0.5, maximum: 3.7 });
    expect([0, 1, 3, 4].map(fractional)).toEqual([false, true, true, false]);
  });
});

describe("number bounds (llama.cpp ignores them; here: decimals without exponent, digit by digit)", () => {
  it.each([
    [{ minimum: 0, maximum: 1 }, ["0", "1", "0.5", "1.000", "0.999"], ["1.01", "-0.1", "2", "1e0"]],
    [{ exclusiveMinimum: 0 }, ["0.001", "5", "123.5"], ["0", "0.000", "-1"]],
    [{ exclusiveMaximum: 0 }, ["-0.001", "-5"], ["0", "-0", "1"]],
    [
      { minimum: -273.15, maximum: 1000 },
      ["-273.15", "-273.1", "-12", "999.99", "1000"],
      ["-273.16", "-274", "1000.1"],
    ],
    [{ minimum: 0.25, maximum: 0.75 }, ["0.25", "0.5", "0.75", "0.7499"], ["0.2", "0.751", "0.76", "1"]],
    [{ minimum: 1.5, exclusiveMaximum: 2.5 }, ["1.5", "2", "2.4999"], ["1.49", "2.5", "3"]],
  ])("%j", async (bounds, ok, no) => {
    const test = await accepts({ type: "number", ...bounds });
    for (const text of ok) expect(test(`RAW:${text}`), text).toBe(true);
    for (const text of no) expect(test(`RAW:${text}`), text).toBe(false);
  });

  it("refuses bounds no written number can meet", () => {
    expect(numberRange({ value: 1, exclusive: true }, { value: 1, exclusive: false })).toBeUndefined();
    expect(refusal({ type: "number", minimum: 1e20 }).message).toMatch(/no number lies within/);
  });

  it("writes unbounded numbers with at most two exponent digits, integers with none (1e999 is Infinity)", async () => {
    const test = await accepts({
      type: "object",
      properties: { n: { type: "integer" }, x: { type: "number" } },
      required: ["n", "x"],
    });
    expect(test({ n: 1, x: 1.5e10 })).toBe(true);
    expect(test('RAW:{"n": 1, "x": 1e99}')).toBe(true);
    expect(test('RAW:{"n": 1, "x": 1e999}')).toBe(false);
    expect(test('RAW:{"n": 1e2, "x": 1}')).toBe(false);
  });
});

describe("strings: lengths, patterns, formats", () => {
  it("bounds a type list's string: {type: [string, null], maxLength: 5}", async () => {
    const test = await accepts({ type: ["string", "null"], maxLength: 5 });
    expect([null, "", "abcde", "abcdef"].map(test)).toEqual([true, true, true, false]);
  });

  it.each([
    ["^[A-Z]{3}-\\d{2,4}$", ["ABC-12", "XYZ-1234"], ["AB-12", "ABC-1", "abc-12", "ABC-12345"]],
    ["^(a|bc)+$", ["a", "bcabc", "aaa"], ["", "b", "ab"]],
    ["^[^a-z]*$", ["", "ABC", "1 2", 'q"\\'.toUpperCase()], ["a", "Zz"]],
    ["^\\w+@\\w+\\.com$", ["a@b.com"], ["a@b.org", "@b.com"]],
    ["ab", ["ab", "xxabyy", "ab\n"], ["a", "ba"]],
    ["^(?<year>\\d{4})-(?:0[1-9]|1[0-2])$", ["2024-01", "1999-12"], ["2024-13", "24-01"]],
    ["^a\\.b\\$$", ["a.b$"], ["axb$", "a.b"]],
    ['^["\\\\]\\n$', ['"\n', "\\\n"], ["x\n"]],
  ])("pattern %s", async (pattern, ok, no) => {
    const test = await accepts({ type: "string", pattern });
    for (const s of ok) expect(test(s), JSON.stringify(s)).toBe(true);
    for (const s of no) expect(test(s), JSON.stringify(s)).toBe(false);
  });

  it("narrows a pattern's repetition to minLength/maxLength", async () => {
    const test = await accepts({ type: "string", pattern: "^[a-z]+$", minLength: 2, maxLength: 4 });
    expect(["a", "ab", "abcd", "abcde"].map(test)).toEqual([false, true, true, false]);
  });

  it.each([
    ["(?=a)", /lookahead/],
    ["^(?<!a)b$", /lookbehind/],
    ["^(a)\\1$", /backreferences/],
    ["\\bword\\b", /word boundaries/],
    ["^\\p{L}+$", /Unicode property escapes/],
    ["^a$b", /anchor/],
    ["^(?i)a$", /group syntax|not a valid regular expression/],
    ["^[a-z]{1000}$", /repetition count above 500/],
    ["(", /not a valid regular expression/],
  ])("refuses an unsupported pattern %s, naming the feature", (pattern, message) => {
    const error = refusal({ type: "object", properties: { p: { type: "string", pattern } } });
    expect(error.status).toBe(400);
    expect(["unsupported_schema", "schema_too_large"]).toContain(error.code);
    expect(error.message.startsWith(`${PARAM}.properties.p.pattern: `), error.message).toBe(true);
    expect(error.message).toMatch(message);
  });

  it.each([
    ["date", ["2024-01-31", "2023-02-28"], ["2024-02-30", "2024-04-31", "2024-13-01", "24-01-01"]],
    ["time", ["23:59:59Z", "00:00:00.123+05:30"], ["24:00:00Z", "12:00:00"]],
    ["date-time", ["2024-05-06T07:08:09Z"], ["2024-05-06 07:08:09Z", "2024-05-06T07:08:09"]],
    ["uuid", ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567e89b12d3a456426614174000"]],
    ["email", ["a.b@example.com", "x_1@mail.example.org"], ["a@b", "@example.com", "a b@c.de"]],
    ["uri", ["https://example.com/a/b"], ["example.com", "ftp://x.y"]],
    ["ipv4", ["0.0.0.0", "192.168.1.255"], ["256.1.1.1", "01.2.3.4"]],
  ])("format %s", async (format, ok, no) => {
    const test = await accepts({ type: "string", format });
    for (const s of ok) expect(test(s), s).toBe(true);
    for (const s of no) expect(test(s), s).toBe(false);
  });

  it("refuses a format it has no grammar for, naming the supported ones", () => {
    expect(refusal({ type: "string", format: "ipv6" }).message).toMatch(
      /format "ipv6" cannot be enforced \(supported: date/,
    );
  });
});

describe("objects, arrays, references and combinations", () => {
  it("writes required properties always, optional ones when wanted, in declared order; additionalProperties per llama.cpp", async () => {
    const schema = {
      type: "object",
      properties: { a: { type: "integer" }, b: { type: "string" }, c: { type: "boolean" } },
      required: ["b"],
    };
    const test = await accepts(schema);
    expect(test({ b: "x" })).toBe(true);
    expect(test({ a: 1, b: "x", c: true })).toBe(true);
    expect(test({ b: "x", c: false })).toBe(true);
    expect(test({ a: 1 })).toBe(false);
    expect(test({ b: "x", a: 1 })).toBe(false); // declared order
    expect(test({ b: "x", d: 1 })).toBe(false); // no additionalProperties declared: none (llama.cpp's default)
    const open = await accepts({ ...schema, additionalProperties: { type: "integer" } });
    expect(open({ b: "x", d: 1, e: 2 })).toBe(true);
    expect(open({ b: "x", d: "no" })).toBe(false);
    expect(open({ b: "x", b2: 1 })).toBe(true);
    expect(open('RAW:{"b": "x", "a": 1}')).toBe(false); // a declared name is not an additional one
    const any = await accepts({ type: "object" });
    expect(any({ x: [1, { y: null }], z: "s" })).toBe(true);
  });

  it("meets min/maxProperties by writing more declared properties or bounding the undeclared ones", async () => {
    const record = await accepts({
      type: "object",
      additionalProperties: { type: "integer" },
      minProperties: 1,
      maxProperties: 2,
    });
    expect([{}, { a: 1 }, { a: 1, b: 2 }, { a: 1, b: 2, c: 3 }].map(record)).toEqual([false, true, true, false]);
    const some = await accepts({
      type: "object",
      properties: { a: { type: "null" }, b: { type: "null" } },
      minProperties: 1,
    });
    expect([{}, { a: null }, { a: null, b: null }].map(some)).toEqual([false, true, true]);
  });

  it("bounds arrays, writes prefixItems (and draft-07 tuples) then the items schema", async () => {
    const test = await accepts({ type: "array", items: { type: "integer" }, minItems: 1, maxItems: 3 });
    expect([[], [1], [1, 2, 3], [1, 2, 3, 4], ["a"]].map(test)).toEqual([false, true, true, false, false]);
    const tuple = await accepts({
      type: "array",
      prefixItems: [{ type: "string" }, { type: "integer" }],
      items: { type: "boolean" },
      maxItems: 3,
    });
    expect(
      [
        ["a", 1],
        ["a", 1, true],
        ["a", 1, true, false],
        [1, "a"],
      ].map(tuple),
    ).toEqual([true, true, false, false]);
    const draft7 = await accepts({ type: "array", items: [{ type: "string" }], additionalItems: false });
    expect([["a"], ["a", "b"]].map(draft7)).toEqual([true, false]);
  });

  it("follows $ref into $defs, definitions and the root, recursion included", async () => {
    const tree = await accepts({
      type: "object",
      properties: { name: { type: "string" }, kids: { type: "array", items: { $ref: "#" } } },
      required: ["name"],
    });
    expect(tree({ name: "a", kids: [{ name: "b", kids: [{ name: "c" }] }] })).toBe(true);
    expect(tree({ name: "a", kids: [{ kids: [] }] })).toBe(false);
    const defs = await accepts({
      definitions: { n: { type: "integer", minimum: 3 } },
      type: "array",
      items: { $ref: "#/definitions/n" },
    });
    expect([[3, 4], [2]].map(defs)).toEqual([true, false]);
  });

  it("merges allOf (objects as llama.cpp, bounds tightened, an anyOf distributed) and $ref with siblings", async () => {
    const test = await accepts({
      $defs: { base: { type: "object", properties: { id: { type: "integer" } }, required: ["id"] } },
      allOf: [{ $ref: "#/$defs/base" }, { properties: { name: { type: "string", maxLength: 3 } }, required: ["name"] }],
    });
    expect(test({ id: 1, name: "abc" })).toBe(true);
    expect(test({ id: 1 })).toBe(false);
    const bounds = await accepts({ allOf: [{ type: "integer", minimum: 0 }, { maximum: 5 }, { minimum: 2 }] });
    expect([1, 2, 5, 6].map(bounds)).toEqual([false, true, true, false]);
    const distributed = await accepts({
      allOf: [
        { type: "object", properties: { k: { type: "string" } }, required: ["k"] },
        {
          anyOf: [
            { properties: { a: { type: "integer" } }, required: ["a"] },
            { properties: { b: { type: "boolean" } }, required: ["b"] },
          ],
        },
      ],
    });
    expect([{ k: "x", a: 1 }, { k: "x", b: true }, { k: "x" }].map(distributed)).toEqual([true, true, false]);
  });

  it("takes const and enum of any JSON value, filtered by the type beside them; nullable; the empty schema is any value", async () => {
    const test = await accepts({ enum: ["a", 1, null, { x: [1] }, [true]] });
    expect(["a", 1, null, { x: [1] }, [true], "b"].map(test)).toEqual([true, true, true, true, true, false]);
    const typed = await accepts({ type: "string", enum: ["a", 1] });
    expect(["a", 1].map(typed)).toEqual([true, false]);
    const nullable = await accepts({ type: "integer", nullable: true });
    expect([1, null, "x"].map(nullable)).toEqual([true, true, false]);
    const any = await accepts({});
    expect([1, "x", null, [1, { a: [] }], { b: false }].map(any)).toEqual([true, true, true, true, true]);
  });

  it.each([
    [{ type: "integer", multipleOf: 3 }, /"multipleOf"|multipleOf: cannot/],
    [{ type: "array", uniqueItems: true }, /uniqueItems/],
    [{ not: { type: "string" } }, /the keyword "not" cannot be enforced/],
    [{ type: "object", patternProperties: { "^a": {} } }, /"patternProperties"/],
    [{ type: "object", dependentRequired: { a: ["b"] } }, /"dependentRequired"/],
    [{ $ref: "https://example.com/s.json" }, /only local references/],
    [{ type: "object", properties: {}, required: ["x"] }, /required property "x" is not declared/],
    [{ allOf: [{ type: "string" }, { type: "integer" }] }, /types do not overlap/],
  ])("refuses %j with a 400 naming it", (schema, message) => {
    const error = refusal(schema);
    expect(error.status).toBe(400);
    expect(error.code).toBe("unsupported_schema");
    expect(error.param).toBe(PARAM);
    expect(error.message).toMatch(message);
  });
});

describe("the corpus", () => {
  it("converts every corpus schema into a grammar llama.cpp parses, each in milliseconds", async () => {
    for (const [name, schema] of Object.entries(corpus)) {
      const gbnf = gbnfOf(schema);
      await expect(llama.createGrammar({ grammar: gbnf }), name).resolves.toBeDefined();
    }
    // Timing: the largest corpus schema, converted 20 times after a warm-up (limits, reading, checks, GBNF).
    const [name, largest] = Object.entries(corpus).sort(
      (a, b) => JSON.stringify(b[1]).length - JSON.stringify(a[1]).length,
    )[0]!;
    gbnfOf(largest);
    const started = performance.now();
    for (let i = 0; i < 20; i++) gbnfOf(largest);
    const ms = (performance.now() - started) / 20;
    console.log(
      `json-schema: converting "${name}" (${JSON.stringify(largest).length} bytes of schema, ${gbnfOf(largest).length} bytes of GBNF) takes ${ms.toFixed(2)} ms`,
    );
    expect(ms).toBeLessThan(50);
  });
});
