import type { LlamaGrammar } from "node-llama-cpp";
import { ApiError, type ChatCompletionRequest, type FunctionTool } from "@slm/config";
import type { GrammarCache } from "../grammar.ts";
import type { ReasoningTags } from "../prompt/index.ts";
import { detectToolFormat, type ToolFormat } from "./tool-format.ts";
import { lazyTrigger, toolCallGrammar } from "./tool-grammar.ts";

/**
 * What a chat request's tool fields mean for one template: whether calls are parsed from the answer, in which
 * syntax, and whether a grammar forces them. As llama-server: tools are rendered into the prompt whatever the
 * tool_choice; with "none" the answer is left as text.
 */
export interface ToolPlan {
  format: ToolFormat;
  /** The offered function names: a call to any other function is not a call. */
  names: ReadonlySet<string>;
  /** True for `required` and a named function: the grammar makes the answer a call. */
  forced: boolean;
  /** 1 for a named function or `parallel_tool_calls: false` (under `auto` too): later calls are dropped. */
  maxCalls?: number;
}

type ToolRequest = Partial<
  Pick<ChatCompletionRequest, "tools" | "tool_choice" | "parallel_tool_calls" | "response_format">
>;

/** The plan, or undefined when the answer is plain text (no tools, or tool_choice "none"). */
export function planTools(templateText: string, request: ToolRequest): ToolPlan | undefined {
  const tools = request.tools ?? [];
  if (tools.length === 0 || request.tool_choice === "none") return undefined;
  const choice = request.tool_choice ?? "auto";
  const forced = choice !== "auto";
  if (forced && request.response_format && request.response_format.type !== "text") {
    throw new ApiError(
      400,
      "invalid_request_error",
      "invalid_request",
      "response_format cannot be combined with a required or named tool_choice.",
      "response_format",
    );
  }
  const single = typeof choice === "object" || request.parallel_tool_calls === false;
  return {
    format: detectToolFormat(templateText),
    names: new Set(tools.map((t) => t.function.name)),
    forced,
    ...(single ? { maxCalls: 1 } : {}),
  };
}

/** The grammar that forces a call for `required` or a named function (undefined for `auto`). */
export async function forcedCallGrammar(
  grammars: GrammarCache,
  plan: ToolPlan,
  request: ToolRequest,
  reasoning: { tags: ReasoningTags; generationPrompt: string } | undefined,
): Promise<LlamaGrammar | undefined> {
  if (!plan.forced) return undefined;
  const all = request.tools ?? [];
  const choice = request.tool_choice;
  const tools =
    typeof choice === "object" && choice !== null ? all.filter((t) => t.function.name === choice.function.name) : all;
  // OpenAI: a named function is exactly one call, whatever parallel_tool_calls says.
  const parallel = plan.maxCalls === undefined;
  const key = JSON.stringify([
    plan.format.name,
    parallel,
    reasoning?.tags,
    reasoning?.generationPrompt,
    tools.map((t) => [t.function.name, t.function.parameters]),
  ]);
  return grammars.fromGbnf(key, () =>
    toolCallGrammar({
      format: plan.format,
      tools,
      parallel,
      reasoning,
      argumentsGrammar: (tool, i) =>
        grammars.schemaGbnf(
          parametersOf(tool),
          `tools.${all.indexOf(tool) >= 0 ? all.indexOf(tool) : i}.function.parameters`,
        ),
    }),
  );
}

/**
 * llama.cpp's lazy grammar for `auto`: the model writes text freely, and once it writes the family's call marker (a
 * single token: `<tool_call>`, `[TOOL_CALLS]`) the rest is a call to an offered function with arguments that follow
 * its schema. Undefined when forced (the whole answer has a grammar) or when the family has no marker.
 */
export async function lazyCallGrammar(
  grammars: GrammarCache,
  plan: ToolPlan,
  request: ToolRequest,
): Promise<{ trigger: string; grammar: LlamaGrammar } | undefined> {
  const trigger = lazyTrigger(plan.format);
  if (plan.forced || trigger === undefined) return undefined;
  const tools = request.tools ?? [];
  const parallel = plan.maxCalls === undefined;
  const key = JSON.stringify([
    "lazy",
    plan.format.name,
    parallel,
    tools.map((t) => [t.function.name, t.function.parameters]),
  ]);
  try {
    const grammar = await grammars.fromGbnf(key, () =>
      toolCallGrammar({
        format: plan.format,
        tools,
        parallel,
        lazy: true,
        argumentsGrammar: (tool, i) => grammars.schemaGbnf(parametersOf(tool), `tools.${i}.function.parameters`),
      }),
    );
    return { trigger, grammar };
  } catch (error) {
    // A schema the grammar cannot enforce (or over the limits) refuses a forced call; under auto the answer is
    // parsed as before, without the grammar.
    if (error instanceof ApiError) return undefined;
    throw error;
  }
}

/** A function's parameters schema; llama.cpp's default (an object with no properties) when it declares none. */
function parametersOf(tool: FunctionTool): Record<string, unknown> {
  const params = tool.function.parameters;
  return params && Object.keys(params).length > 0 ? params : { type: "object", properties: {} };
}
