import * as v from "valibot";

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

const tokens = () => v.nullish(v.pipe(v.number(), v.integer("an integer"), v.minValue(1, "at least 1")));
const unsupported = (what: string) =>
  v.optional(v.pipe(v.unknown(), v.check((x) => x === undefined || x === null, `${what} is not supported`)));

export const ChatCompletionRequest = v.pipe(
  v.object({
    model: v.optional(v.pipe(v.string(), v.maxLength(256))),
    messages: v.pipe(v.array(ChatMessage), v.minLength(1, "at least one message")),
    max_tokens: tokens(),
    max_completion_tokens: tokens(),
    temperature: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
    top_p: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
    seed: v.nullish(v.pipe(v.number(), v.integer("an integer"))),
    stop: v.nullish(
      v.union([v.string(), v.pipe(v.array(v.string()), v.maxLength(4, "at most 4 stop sequences"))], "a string or a list of up to 4 strings"),
    ),
    stream: v.nullish(v.boolean()),
    stream_options: v.nullish(v.object({ include_usage: v.optional(v.boolean()) })),
    n: v.nullish(v.pipe(v.number(), v.value(1, "only n=1 is supported"))),
    user: v.optional(v.string()),
    tools: unsupported("tools"),
    tool_choice: unsupported("tool_choice"),
    functions: unsupported("functions"),
    logprobs: v.nullish(v.pipe(v.boolean(), v.value(false, "logprobs is not supported"))),
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
