import { describe, expect, it } from "vitest";
import type { FunctionTool } from "@slm/config";
import { embedSchemaGrammar, toolCallGrammar, toolFormat } from "./index.ts";

/** What node-llama-cpp generates for `{type: object, properties: {n: integer, x: number, s: string(maxLength 3)}}`. */
const GENERATED = [
  'root ::= "{" whitespace-b-1-4-rule "\\"n\\"" ":" [ ]? integer-number-rule comma-whitespace-b-1-4-rule "\\"x\\"" ":" [ ]? fractional-number-rule comma-whitespace-b-1-4-rule "\\"s\\"" ":" [ ]? string-0-3-rule whitespace-b-0-4-rule "}" "\\n\\n\\n\\n" [\\n]*',
  'string-char-rule ::= [^"\\\\\\x7F\\x00-\\x1F] | "\\\\" ["\\\\/bfnrt] | "\\\\u" [0-9a-fA-F]{4}',
  'string-0-3-rule ::= "\\"" ( string-char-rule ){0,3} "\\""',
  'integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?',
  'fractional-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?',
].join("\n");

const tool = (name: string): FunctionTool => ({ type: "function", function: { name } });

describe("embedSchemaGrammar", () => {
  it("renames rules (not literals, character classes or counts) and drops the generator's trailing newlines", () => {
    const { root, rules } = embedSchemaGrammar(GENERATED, "t0-");
    expect(root).toBe("t0-root");
    expect(rules[0]).toBe(
      't0-root ::= "{" t0-whitespace-b-1-4-rule "\\"n\\"" ":" [ ]? t0-integer-number-rule t0-comma-whitespace-b-1-4-rule "\\"x\\"" ":" [ ]? t0-fractional-number-rule t0-comma-whitespace-b-1-4-rule "\\"s\\"" ":" [ ]? t0-string-0-3-rule t0-whitespace-b-0-4-rule "}"',
    );
    expect(rules[2]).toBe('t0-string-0-3-rule ::= "\\"" ( t0-string-char-rule ){0,3} "\\""');
  });

  it("refuses a root rule it does not recognise rather than embedding it wrongly", () => {
    expect(() => embedSchemaGrammar('root ::= "{}"', "t0-")).toThrow(/unexpected root rule/);
  });
});

describe("toolCallGrammar", () => {
  const build = (
    name: Parameters<typeof toolFormat>[0],
    parallel: boolean,
    reasoning?: Parameters<typeof toolCallGrammar>[0]["reasoning"],
  ) =>
    toolCallGrammar({
      format: toolFormat(name),
      tools: [tool("a"), tool("b")],
      parallel,
      reasoning,
      argumentsGrammar: async () => 'root ::= "{}" "\\n\\n\\n\\n" [\\n]*',
    });

  it("wraps each offered function in the family's syntax; several calls only when parallel", async () => {
    const hermes = await build("hermes", true);
    expect(hermes).toContain(
      'call-0 ::= "<tool_call>\\n{\\"name\\": " "\\"a\\"" ", \\"arguments\\": " t0-root "}\\n</tool_call>"',
    );
    expect(hermes).toContain("call ::= call-0 | call-1");
    expect(hermes).toContain('calls ::= call ("\\n" call)*');
    expect(await build("hermes", false)).toContain("calls ::= call\n");
    expect(await build("llama3", true)).toContain("calls ::= call\n"); // Llama 3.x writes one call per turn
    expect(await build("mistral-args", true)).toContain('call-1 ::= "[TOOL_CALLS]b[ARGS]" t1-root');
    expect(await build("generic", false)).toContain('calls ::= "{\\"tool_call\\": " call "}"');
  });

  it("lazy (auto): the calls after the trigger the model wrote, one or several", async () => {
    const lazy = (name: "hermes" | "mistral" | "mistral-args", parallel: boolean) =>
      toolCallGrammar({
        format: toolFormat(name),
        tools: [tool("a"), tool("b")],
        parallel,
        lazy: true,
        argumentsGrammar: async () => 'root ::= "{}" "\\n\\n\\n\\n" [\\n]*',
      });
    const hermes = await lazy("hermes", true);
    expect(hermes).toContain(
      'call-0-rest ::= "\\n{\\"name\\": " "\\"a\\"" ", \\"arguments\\": " t0-root "}\\n</tool_call>"',
    );
    expect(hermes).toContain("first ::= call-0-rest | call-1-rest");
    expect(hermes).toContain('root ::= first ("\\n" call)*');
    expect(await lazy("hermes", false)).toMatch(/^root ::= first$/m);
    expect(await lazy("mistral-args", false)).toContain('call-1-rest ::= "b[ARGS]" t1-root');
    expect(await lazy("mistral", false)).toContain('root ::= "[" call "]"');
  });

  it("keeps a thinking section in front: optional, continued when the prompt opened it, none when it closed it", async () => {
    const tags = {
      start: { lead: "", core: "<think>", trail: "\n" },
      end: { lead: "\n", core: "</think>", trail: "\n\n" },
      preserve: [],
    };
    expect(await build("hermes", true, { tags, generationPrompt: "<|im_start|>assistant\n" })).toMatch(
      /^root ::= \("<think>" \(\[\^\\x3c\] \| "<" \[\^\\x2f\]\)\* "<\/think>" \[ \\t\\n\]\*\)\? calls$/m,
    );
    expect(await build("hermes", true, { tags, generationPrompt: "<｜Assistant｜><think>\n" })).toMatch(
      /^root ::= \(\[\^\\x3c\] \| "<" \[\^\\x2f\]\)\* "<\/think>" \[ \\t\\n\]\* calls$/m,
    );
    expect(
      await build("hermes", true, { tags, generationPrompt: "<|im_start|>assistant\n<think>\n\n</think>\n\n" }),
    ).toMatch(/^root ::= calls$/m);
  });
});
