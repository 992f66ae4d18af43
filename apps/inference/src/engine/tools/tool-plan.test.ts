import { describe, expect, it } from "vitest";
import { ApiError, type FunctionTool } from "@slm/config";
import type { GrammarCache } from "../grammar.ts";
import { forcedCallGrammar, lazyCallGrammar, planTools } from "./index.ts";

const HERMES = "{% if tools %}<tool_call>{% endif %}";
const tool = (name: string): FunctionTool => ({ type: "function", function: { name } });
const TOOLS = [tool("a"), tool("b")];

/** A grammar cache that hands back the GBNF text it was asked to build. */
const grammars = {
  fromGbnf: async (_key: string, build: () => Promise<string>) => build(),
  schemaGbnf: async () => 'root ::= "{}" "\\n\\n\\n\\n" [\\n]*',
} as unknown as GrammarCache;

describe("planTools", () => {
  it("allows one call for a named function or parallel_tool_calls false, under auto too", () => {
    expect(planTools(HERMES, { tools: TOOLS })?.maxCalls).toBeUndefined();
    expect(planTools(HERMES, { tools: TOOLS, tool_choice: "required" })?.maxCalls).toBeUndefined();
    expect(planTools(HERMES, { tools: TOOLS, parallel_tool_calls: false })?.maxCalls).toBe(1);
    expect(planTools(HERMES, { tools: TOOLS, tool_choice: "required", parallel_tool_calls: false })?.maxCalls).toBe(1);
    const named = { type: "function" as const, function: { name: "b" } };
    expect(planTools(HERMES, { tools: TOOLS, tool_choice: named })?.maxCalls).toBe(1);
  });
});

describe("forcedCallGrammar", () => {
  it("forces exactly one call for a named function, even when parallel calls are allowed", async () => {
    const request = { tools: TOOLS, tool_choice: { type: "function" as const, function: { name: "b" } } };
    const plan = planTools(HERMES, request)!;
    const gbnf = (await forcedCallGrammar(grammars, plan, request, undefined)) as unknown as string;
    expect(gbnf).toContain("calls ::= call\n");
    expect(gbnf).toContain('"\\"b\\""');
    expect(gbnf).not.toContain('"\\"a\\""');
    const required = { tools: TOOLS, tool_choice: "required" as const };
    const several = (await forcedCallGrammar(
      grammars,
      planTools(HERMES, required)!,
      required,
      undefined,
    )) as unknown as string;
    expect(several).toContain('calls ::= call ("\\n" call)*');
  });
});

describe("lazyCallGrammar", () => {
  it("builds the grammar after the trigger under auto only, and leaves auto alone when a schema is refused", async () => {
    const auto = { tools: TOOLS, parallel_tool_calls: false };
    const lazy = await lazyCallGrammar(grammars, planTools(HERMES, auto)!, auto);
    expect(lazy?.trigger).toBe("<tool_call>");
    expect(lazy?.grammar as unknown as string).toMatch(/^root ::= first$/m);
    const required = { tools: TOOLS, tool_choice: "required" as const };
    expect(await lazyCallGrammar(grammars, planTools(HERMES, required)!, required)).toBeUndefined();
    expect(await lazyCallGrammar(grammars, planTools("generic", auto)!, auto)).toBeUndefined();
    const refusing = {
      ...grammars,
      fromGbnf: grammars.fromGbnf,
      schemaGbnf: async () => {
        throw new ApiError(400, "invalid_request_error", "unsupported_schema", "no", "tools");
      },
    } as unknown as GrammarCache;
    expect(await lazyCallGrammar(refusing, planTools(HERMES, auto)!, auto)).toBeUndefined();
  });
});
