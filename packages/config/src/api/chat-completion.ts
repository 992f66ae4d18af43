import * as v from "valibot";
import { generationParams, tokenCount, unsupported } from "./generation-params.ts";
import { jsonValueDeeperThan, MAX_JSON_VALUE_DEPTH, maxJsonDepth } from "./json-depth.ts";
import { ToolCall, ToolChoice, toolChoiceProblem, type ToolCallDelta } from "./tools.ts";

/** The OpenAI chat completion API, as both apps speak it. Requests are validated; responses are typed. */

const TextPart = v.object({ type: v.literal("text"), text: v.string() });

/**
 * A message of the conversation. An assistant message may carry `tool_calls` (its content then may be null or
 * absent); a `tool` message answers one call, named by `tool_call_id`.
 */
export const ChatMessage = v.pipe(
  v.object({
    role: v.picklist(
      ["system", "developer", "user", "assistant", "tool"],
      'one of "system", "developer", "user", "assistant", "tool"',
    ),
    content: v.nullish(
      v.union([v.string(), v.array(TextPart)], 'a string or an array of {"type":"text","text":...} parts'),
    ),
    name: v.optional(v.string()),
    tool_calls: v.nullish(v.pipe(v.array(ToolCall), v.maxLength(128, "at most 128 tool calls"))),
    tool_call_id: v.nullish(v.pipe(v.string(), v.maxLength(256, "at most 256 characters"))),
  }),
  v.check(
    (m) => m.content != null || (m.role === "assistant" && (m.tool_calls?.length ?? 0) > 0),
    "content (only an assistant message with tool_calls may omit it)",
  ),
  v.check((m) => m.tool_calls == null || m.role === "assistant", "tool_calls only on assistant messages"),
  v.check((m) => m.role !== "tool" || typeof m.tool_call_id === "string", "a tool message needs tool_call_id"),
);
export type ChatMessage = v.InferOutput<typeof ChatMessage>;

/** An OpenAI function tool. Rendered into the prompt by the model's own chat template (which receives `tools`). */
export const FunctionTool = v.object({
  type: v.literal("function", 'only tools of type "function" are supported'),
  function: v.object({
    name: v.pipe(v.string(), v.regex(/^[\w-]{1,64}$/, "a name of up to 64 letters, digits, _ or -")),
    description: v.optional(v.string()),
    parameters: v.optional(v.pipe(v.record(v.string(), v.unknown()), maxJsonDepth())),
    strict: v.nullish(v.boolean()),
  }),
});
export type FunctionTool = v.InferOutput<typeof FunctionTool>;

/** Largest `chat_template_kwargs` accepted, as JSON text: template switches, not a second prompt. */
export const CHAT_TEMPLATE_KWARGS_MAX_BYTES = 4096;

/**
 * `chat_template_kwargs` (vLLM's and llama-server's name): extra variables for the chat template, e.g.
 * `{"enable_thinking": false}` for Qwen3. A JSON object of at most 4 KiB whose keys are plain identifiers, so a
 * request cannot shadow the template's own variables.
 */
export const ChatTemplateKwargs = v.pipe(
  v.record(v.pipe(v.string(), v.regex(/^[A-Za-z_]\w{0,63}$/, "keys that are identifiers")), v.unknown()),
  v.check(
    (kwargs) => !Object.keys(kwargs).some((k) => RESERVED_TEMPLATE_VARIABLES.has(k)),
    "no keys named messages, tools, add_generation_prompt, bos_token or eos_token",
  ),
  maxJsonDepth(),
  v.check(
    // Too deep is reported by the check above; JSON.stringify would recurse (and throw) over it.
    (kwargs) =>
      jsonValueDeeperThan(kwargs, MAX_JSON_VALUE_DEPTH) ||
      new TextEncoder().encode(JSON.stringify(kwargs)).length <= CHAT_TEMPLATE_KWARGS_MAX_BYTES,
    `at most ${CHAT_TEMPLATE_KWARGS_MAX_BYTES} bytes of JSON`,
  ),
);
const RESERVED_TEMPLATE_VARIABLES = new Set(["messages", "tools", "add_generation_prompt", "bos_token", "eos_token"]);

/**
 * How a reasoning model's thinking comes back: split into `reasoning_content` (the default, as llama-server's "auto"
 * and vLLM's reasoning parsers do) or left in `content` as generated ("none").
 */
export const ReasoningFormat = v.picklist(["auto", "deepseek", "none"], 'one of "auto", "deepseek", "none"');

export const ChatCompletionRequest = v.pipe(
  v.object({
    model: v.optional(v.pipe(v.string(), v.maxLength(256))),
    messages: v.pipe(v.array(ChatMessage), v.minLength(1, "at least one message")),
    max_tokens: tokenCount(),
    max_completion_tokens: tokenCount(),
    ...generationParams,
    tools: v.nullish(v.pipe(v.array(FunctionTool), v.maxLength(128, "at most 128 tools"))),
    /** The model's calls are parsed into `tool_calls`; `required` and a named function are enforced by a grammar. */
    tool_choice: v.nullish(ToolChoice),
    parallel_tool_calls: v.nullish(v.boolean()),
    chat_template_kwargs: v.nullish(ChatTemplateKwargs),
    reasoning_format: v.nullish(ReasoningFormat),
    functions: unsupported("functions"),
    function_call: unsupported("function_call"),
    /** The chosen tokens' log probabilities (and `top_logprobs` alternatives per token), from the model's distribution. */
    logprobs: v.nullish(v.boolean()),
    top_logprobs: v.nullish(
      v.pipe(v.number(), v.integer("an integer"), v.minValue(0, "from 0 to 20"), v.maxValue(20, "from 0 to 20")),
    ),
    audio: unsupported("audio output"),
    prediction: unsupported("prediction"),
  }),
  v.forward(
    v.check((r) => r.top_logprobs == null || r.logprobs === true, "logprobs must be true when top_logprobs is set"),
    ["top_logprobs"],
  ),
  v.forward(
    v.check(
      (r) => toolChoiceProblem(r) === undefined,
      (issue) => toolChoiceProblem(issue.input as Parameters<typeof toolChoiceProblem>[0]) ?? "a valid tool_choice",
    ),
    ["tool_choice"],
  ),
  v.transform((r) => ({ ...r, maxTokens: r.max_completion_tokens ?? r.max_tokens ?? undefined })),
);
export type ChatCompletionRequest = v.InferOutput<typeof ChatCompletionRequest>;
export type ChatCompletionRequestInput = v.InferInput<typeof ChatCompletionRequest>;

export type FinishReason = "stop" | "length" | "tool_calls";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** `cached_tokens`: the prompt tokens reused from the sequence's cache (its prefix not evaluated again). */
  prompt_tokens_details?: { cached_tokens: number };
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  system_fingerprint: string | null;
  choices: Array<{
    index: number;
    message: {
      role: "assistant";
      content: string | null;
      reasoning_content?: string;
      tool_calls?: ToolCall[];
      refusal: null;
    };
    finish_reason: FinishReason;
    logprobs: ChatChoiceLogprobs | null;
  }>;
  usage: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  system_fingerprint: string | null;
  choices: Array<{
    index: number;
    delta: { role?: "assistant"; content?: string; reasoning_content?: string; tool_calls?: ToolCallDelta[] };
    finish_reason: FinishReason | null;
    logprobs: ChatChoiceLogprobs | null;
  }>;
  usage?: Usage | null;
}

/** One generated token's log probability, OpenAI's shape (plus llama-server's `id`, the token id). */
export interface ChatTokenLogprob {
  id: number;
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes. */
  bytes: number[] | null;
  top_logprobs: Array<{ id: number; token: string; logprob: number; bytes: number[] | null }>;
}

export interface ChatChoiceLogprobs {
  content: ChatTokenLogprob[] | null;
  refusal: null;
}

/** Joins a message's content parts into the text the template sees: with "\n" between parts, as llama-server does. */
export function messageText(message: Pick<ChatMessage, "content">): string {
  if (message.content == null) return "";
  if (typeof message.content === "string") return message.content;
  let text = "";
  for (const part of message.content) text += (text.length > 0 ? "\n" : "") + part.text;
  return text;
}
