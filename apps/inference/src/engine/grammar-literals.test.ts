import { describe, expect, it } from "vitest";
import { gbnfEscape, withLiteralMarkers, withoutLiteralText } from "./grammar-literals.ts";

describe("withLiteralMarkers", () => {
  it("leaves a schema without control characters as it is", () => {
    const schema = { type: "object", properties: { "tab\there": { const: "line\nbreak" } } };
    const marked = withLiteralMarkers(schema);
    expect(marked.schema).toBe(schema);
    expect(marked.restore("root ::= x")).toBe("root ::= x");
  });

  it("marks const and enum strings and property names that JSON escapes, and restores them as JSON writes them", () => {
    const schema = {
      type: "object",
      properties: { "k\u0000": { const: "a\u0001" }, e: { enum: ["\b", "ok"] } },
      required: ["k\u0000"],
    };
    const { schema: marked, restore } = withLiteralMarkers(schema);
    const text = JSON.stringify(marked);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: that no control character is left is the point
    expect(text).not.toMatch(/[\u0000-\u0008]/);
    const [k, a, b] = [...text.matchAll(/slmliteral[0-9a-f]{16}n\d+/g)].map((m) => m[0]);
    expect(marked).toEqual({
      type: "object",
      properties: { [k!]: { const: a }, e: { enum: [b, "ok"] } },
      required: [k],
    });
    // The generator writes a string as the GBNF literal of its JSON text.
    expect(restore(`x ::= "\\"${k}\\"" "\\"${a}\\"" "\\"${b}\\""`)).toBe(
      `x ::= "${gbnfEscape(JSON.stringify("k\u0000"))}" "${gbnfEscape(JSON.stringify("a\u0001"))}" "\\"\\\\b\\""`,
    );
  });

  it("marks lone surrogates (JSON writes them as \\udxxx), not pairs", () => {
    const { schema } = withLiteralMarkers({ enum: ["\ud800", "\ud83d\ude00"] });
    expect((schema.enum as string[])[0]).toMatch(/^slmliteral/);
    expect((schema.enum as string[])[1]).toBe("\ud83d\ude00");
  });
});

describe("withoutLiteralText", () => {
  it("replaces the inside of every string literal, keeping rules, classes, empty literals and repetitions", () => {
    const gbnf = [
      'root ::= "{" ws "\\"secret\\"" ":" [ ]? val0 ("" | "x"){0,3} "\\n\\n\\n\\n" [\\n]*',
      'val0 ::= "\\"a\\\\\\"b\\"" | [^"\\\\\\x7F\\x00-\\x1F] # comment "with" text',
    ].join("\n");
    expect(withoutLiteralText(gbnf).split("\n")).toEqual([
      'root ::= "x" ws "x" "x" [ ]? val0 ("" | "x"){0,3} "x" [\\n]*',
      'val0 ::= "x" | [^"\\\\\\x7F\\x00-\\x1F] ',
    ]);
  });
});
