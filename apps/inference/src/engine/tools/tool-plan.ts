import type { LlamaGrammar } from "node-llama-cpp";
import { ApiError, type ChatCompletionRequest, type FunctionTool } from "@slm/config";
import type { GrammarCache } from "../grammar.ts";
import type { ReasoningTags } from "../prompt/index.ts";
import { detectToolFormat, type ToolFormat } from "./tool-format.ts";
import { toolCallGrammar } from "./tool-grammar.ts";

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
  return { format: detectToolFormat(templateText), names: new Set(tools.map((t) => t.function.name)), forced };
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
  const parallel = request.parallel_tool_calls !== false;
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

/** A function's parameters schema; llama.cpp's default (an object with no properties) when it declares none. */
function parametersOf(tool: FunctionTool): Record<string, unknown> {
  const params = tool.function.parameters;
  return params && Object.keys(params).length > 0 ? params : { type: "object", properties: {} };
}
