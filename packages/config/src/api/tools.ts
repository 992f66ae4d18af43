import * as v from "valibot";

/**
 * OpenAI's tool-calling shapes, shared by the chat API (requests and answers) and the gateway: the calls an assistant
 * message carries, `tool_choice`, and the stream's tool-call deltas.
 */

/** A call the assistant made, as OpenAI returns it and as the client sends it back in the history. */
export const ToolCall = v.object({
  id: v.pipe(v.string(), v.maxLength(256, "at most 256 characters")),
  type: v.literal("function", 'only tool calls of type "function" are supported'),
  function: v.object({
    name: v.pipe(v.string(), v.maxLength(256, "at most 256 characters")),
    /** The arguments as JSON text (OpenAI sends a string; the template receives an object when it reads one). */
    arguments: v.string(),
  }),
});
export type ToolCall = v.InferOutput<typeof ToolCall>;

/** `none`, `auto`, `required`, or one named function (`{"type":"function","function":{"name":...}}`). */
export const ToolChoice = v.union(
  [
    v.picklist(["none", "auto", "required"]),
    v.object({ type: v.literal("function"), function: v.object({ name: v.string() }) }),
  ],
  '"none", "auto", "required" or {"type":"function","function":{"name":...}}',
);
export type ToolChoice = v.InferOutput<typeof ToolChoice>;

/** One tool call in a stream chunk: index, id, type and name first, then `arguments` fragments alone. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function: { name?: string; arguments: string };
}

/** The request-level rules OpenAI applies to tool fields (a named tool must be declared, and so on). */
export function toolChoiceProblem(request: {
  tools?: ReadonlyArray<{ function: { name: string } }> | null | undefined;
  tool_choice?: ToolChoice | null | undefined;
}): string | undefined {
  const choice = request.tool_choice;
  if (choice === undefined || choice === null || choice === "none" || choice === "auto") return undefined;
  const tools = request.tools ?? [];
  if (tools.length === 0) return "tool_choice is only allowed when tools are specified";
  if (typeof choice === "object" && !tools.some((t) => t.function.name === choice.function.name)) {
    return `tool_choice names the function "${choice.function.name.slice(0, 64)}", which is not in tools`;
  }
  return undefined;
}
