import * as v from "valibot";
import { ChatMessage, ChatTemplateKwargs, FunctionTool } from "./chat-completion.ts";
import { ToolChoice } from "./tools.ts";
import { tokenIds } from "./generation-params.ts";

/**
 * Inference's debug routes, shaped like llama-server's: what prompt a chat request becomes, and the tokenizer both
 * ways. Internal (never routed by the gateway): they show the exact prompt a fine-tune receives.
 */

/** POST /apply-template: the chat request's prompt-related fields; answers `{ "prompt": "..." }`. */
export const ApplyTemplateRequest = v.object({
  model: v.optional(v.pipe(v.string(), v.maxLength(256))),
  messages: v.pipe(v.array(ChatMessage), v.minLength(1, "at least one message")),
  tools: v.nullish(v.pipe(v.array(FunctionTool), v.maxLength(128, "at most 128 tools"))),
  tool_choice: v.nullish(ToolChoice),
  chat_template_kwargs: v.nullish(ChatTemplateKwargs),
});
export type ApplyTemplateRequest = v.InferOutput<typeof ApplyTemplateRequest>;

/** POST /tokenize: `{ "tokens": [ids] }`, or `[{ "id", "piece" }]` with `with_pieces`. Defaults as llama-server's. */
export const TokenizeRequest = v.object({
  model: v.optional(v.pipe(v.string(), v.maxLength(256))),
  content: v.string(),
  /** Add BOS/EOS as the vocabulary asks (what a prompt gets). Default false. */
  add_special: v.optional(v.boolean(), false),
  /** Recognise special tokens written as text (`<|im_start|>`). Default true. */
  parse_special: v.optional(v.boolean(), true),
  with_pieces: v.optional(v.boolean(), false),
});
export type TokenizeRequest = v.InferOutput<typeof TokenizeRequest>;

/** POST /detokenize: `{ "content": "..." }`. */
export const DetokenizeRequest = v.object({
  model: v.optional(v.pipe(v.string(), v.maxLength(256))),
  tokens: tokenIds(),
});
export type DetokenizeRequest = v.InferOutput<typeof DetokenizeRequest>;
