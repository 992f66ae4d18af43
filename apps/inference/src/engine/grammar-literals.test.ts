import { describe, expect, it } from "vitest";
import { gbnfEscape, withoutLiteralText } from "./grammar-literals.ts";

describe("gbnfEscape", () => {
  it("escapes the quotes and backslashes of JSON text for a GBNF literal", () => {
    expect(gbnfEscape(JSON.stringify('a"b\\c\u0000'))).toBe('\\"a\\\\\\"b\\\\\\\\c\\\\u0000\\"');
  });
});

describe("withoutLiteralText", () => {
  it("replaces the inside of every string literal and character class, keeping rules, empty literals and repetitions", () => {
    const gbnf = [
      'root ::= "{" ws "\\"secret\\"" ":" [ ]? val0 ("" | "x"){0,3} "\\n\\n\\n\\n" [\\n]*',
      'val0 ::= "\\"a\\\\\\"b\\"" | [^"\\\\\\x7F\\x00-\\x1F] [a-z"] # comment "with" text',
    ].join("\n");
    expect(withoutLiteralText(gbnf).split("\n")).toEqual([
      'root ::= "x" ws "x" "x" [x]? val0 ("" | "x"){0,3} "x" [x]*',
      'val0 ::= "x" | [^x] [x] ',
    ]);
  });
});
