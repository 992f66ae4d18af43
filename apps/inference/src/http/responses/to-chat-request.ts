import * as v from "valibot";
import {
  ChatCompletionRequest,
  expectationMessage,
  invalidRequest,
  RESPONSE_INCLUDE_LOGPROBS,
  type ResponseInputItem,
  type ResponseRequest,
} from "@slm/config";

/** A chat message as the chat schema takes it (tool calls and tool results included), before validation. */
type ChatMessageInput = Record<string, unknown> & { role: string };

/**
 * A Responses request as the chat completion request that answers it: `instructions` becomes a system message ahead
 * of the input, message items become chat messages, `function_call` items the assistant's `tool_calls` (consecutive
 * calls in one message, as parallel calls) and `function_call_output` items `role: "tool"` messages; flat function
 * tools get chat's `function` wrapper, `text.format` becomes `response_format`, `max_output_tokens` `max_tokens`.
 * The result goes through the chat schema, so the chat path's own rules (and limits) apply to it.
 */
export function toChatRequest(request: ResponseRequest): ChatCompletionRequest {
  const messages: ChatMessageInput[] = [];
  if (request.instructions) messages.push({ role: "system", content: request.instructions });
  if (typeof request.input === "string") messages.push({ role: "user", content: request.input });
  else for (const item of request.input) addItem(messages, item);

  const format = request.text?.format;
  const chat: Record<string, unknown> = {
    messages,
    ...(request.model !== undefined ? { model: request.model } : {}),
    ...(request.max_output_tokens != null ? { max_tokens: request.max_output_tokens } : {}),
    ...(request.temperature != null ? { temperature: request.temperature } : {}),
    ...(request.top_p != null ? { top_p: request.top_p } : {}),
    ...(request.stream != null ? { stream: request.stream } : {}),
    ...(request.parallel_tool_calls != null ? { parallel_tool_calls: request.parallel_tool_calls } : {}),
    ...(request.user !== undefined ? { user: request.user } : {}),
  };
  if (format && format.type !== "text") {
    chat["response_format"] =
      format.type === "json_schema"
        ? {
            type: "json_schema",
            json_schema: {
              name: format.name,
              schema: format.schema,
              ...(format.description !== undefined ? { description: format.description } : {}),
              ...(format.strict != null ? { strict: format.strict } : {}),
            },
          }
        : { type: "json_object" };
  }
  if (request.tools && request.tools.length > 0) {
    chat["tools"] = request.tools.map((tool) => ({
      type: "function",
      function: {
        name: tool.name,
        ...(tool.description != null ? { description: tool.description } : {}),
        ...(tool.parameters != null ? { parameters: tool.parameters } : {}),
        ...(tool.strict != null ? { strict: tool.strict } : {}),
      },
    }));
  }
  const choice = request.tool_choice;
  if (choice != null)
    chat["tool_choice"] = typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } };
  if (request.include?.includes(RESPONSE_INCLUDE_LOGPROBS)) {
    chat["logprobs"] = true;
    if (request.top_logprobs != null) chat["top_logprobs"] = request.top_logprobs;
  }

  const parsed = v.safeParse(ChatCompletionRequest, chat, { abortEarly: false, message: expectationMessage });
  if (!parsed.success) throw invalidRequest(parsed.issues);
  return parsed.output;
}

function addItem(messages: ChatMessageInput[], item: ResponseInputItem): void {
  if (!("type" in item) || item.type === undefined || item.type === "message") {
    const message = item as Extract<ResponseInputItem, { role: string }>;
    const content =
      typeof message.content === "string"
        ? message.content
        : message.content.map((part) => ({ type: "text", text: part.type === "refusal" ? part.refusal : part.text }));
    messages.push({ role: message.role, content });
    return;
  }
  if (item.type === "function_call") {
    const call = { id: item.call_id, type: "function", function: { name: item.name, arguments: item.arguments } };
    const last = messages.at(-1);
    // Calls right after the assistant's text (or after other calls) belong to that assistant turn.
    if (last?.role === "assistant")
      last["tool_calls"] = [...((last["tool_calls"] as unknown[] | undefined) ?? []), call];
    else messages.push({ role: "assistant", content: null, tool_calls: [call] });
    return;
  }
  if (item.type === "function_call_output") {
    const output = typeof item.output === "string" ? item.output : item.output.map((part) => part.text).join("\n");
    messages.push({ role: "tool", tool_call_id: item.call_id, content: output });
  }
  // Reasoning items: a template renders no past thinking, so they are left out.
}
