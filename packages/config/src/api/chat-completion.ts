import * as v from "valibot";
import { generationParams, tokenCount, unsupported } from "./generation-params.ts";

/** The OpenAI chat completion API, as both apps speak it. Requests are validated; responses are typed. */

const TextPart = v.object({ type: v.literal("text"), text: v.string() });

export const ChatMessage = v.object({
  role: v.picklist(["system", "developer", "user", "assistant"], 'one of "system", "developer", "user", "assistant"'),
  content: v.union(
    [v.string(), v.array(TextPart)],
    'a string or an array of {"type":"text","text":...} parts',
  ),
  name: v.optional(v.string()),
});
export type ChatMessage = v.InferOutput<typeof ChatMessage>;

export const ChatCompletionRequest = v.pipe(
  v.object({
    model: v.optional(v.pipe(v.string(), v.maxLength(256))),
    messages: v.pipe(v.array(ChatMessage), v.minLength(1, "at least one message")),
    max_tokens: tokenCount(),
    max_completion_tokens: tokenCount(),
    ...generationParams,
    tools: unsupported("tools"),
    tool_choice: unsupported("tool_choice"),
    functions: unsupported("functions"),
    function_call: unsupported("function_call"),
    logprobs: v.nullish(v.pipe(v.boolean(), v.value(false, "logprobs is not supported"))),
    top_logprobs: unsupported("top_logprobs"),
    audio: unsupported("audio output"),
    prediction: unsupported("prediction"),
  }),
  v.transform((r) => ({ ...r, maxTokens: r.max_completion_tokens ?? r.max_tokens ?? undefined })),
);
export type ChatCompletionRequest = v.InferOutput<typeof ChatCompletionRequest>;
export type ChatCompletionRequestInput = v.InferInput<typeof ChatCompletionRequest>;

export type FinishReason = "stop" | "length";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  system_fingerprint: string | null;
  choices: Array<{
    index: number;
    message: { role: "assistant"; content: string; refusal: null };
    finish_reason: FinishReason;
    logprobs: null;
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
    delta: { role?: "assistant"; content?: string };
    finish_reason: FinishReason | null;
    logprobs: null;
  }>;
  usage?: Usage | null;
}

/** Joins a message's content parts into the text the template sees. */
export function messageText(message: ChatMessage): string {
  return typeof message.content === "string" ? message.content : message.content.map((p) => p.text).join("");
}
