import * as v from "valibot";
import { generationParams, tokenCount, tokenIds, unsupported } from "./generation-params.ts";
import type { FinishReason, Usage } from "./chat-completion.ts";

/** OpenAI's (legacy) text completion API: a raw prompt continued as is, no chat template. */

/** OpenAI's default when `max_tokens` is absent. */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

export const CompletionRequest = v.pipe(
  v.object({
    model: v.optional(v.pipe(v.string(), v.maxLength(256))),
    prompt: v.union(
      [
        v.string(),
        v.pipe(v.array(v.string()), v.length(1, "exactly one prompt")),
        tokenIds(),
        v.pipe(v.array(tokenIds()), v.length(1, "exactly one prompt")),
      ],
      "a string or token ids (one prompt per request)",
    ),
    max_tokens: tokenCount(),
    ...generationParams,
    /** Return the prompt followed by the completion. */
    echo: v.nullish(v.boolean()),
    best_of: v.nullish(v.pipe(v.number(), v.value(1, "only best_of=1 is supported"))),
    /** The legacy logprobs: the chosen tokens' log probabilities and, per token, this many alternatives (0 to 20). */
    logprobs: v.nullish(
      v.pipe(v.number(), v.integer("an integer"), v.minValue(0, "from 0 to 20"), v.maxValue(20, "from 0 to 20")),
    ),
    suffix: unsupported("suffix"),
  }),
  v.transform((r) => {
    const prompt =
      Array.isArray(r.prompt) && r.prompt.length === 1 && typeof r.prompt[0] !== "number" ? r.prompt[0]! : r.prompt;
    return { ...r, prompt: prompt as string | number[], maxTokens: r.max_tokens ?? COMPLETION_DEFAULT_MAX_TOKENS };
  }),
);
export type CompletionRequest = v.InferOutput<typeof CompletionRequest>;
export type CompletionRequestInput = v.InferInput<typeof CompletionRequest>;

/** The legacy completion logprobs: parallel arrays, one entry per generated token. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  /** Per token: alternative token text -> log probability. */
  top_logprobs: Array<Record<string, number>>;
  /** Each token's character offset in the choice's text (the echoed prompt included). */
  text_offset: number[];
}

export interface CompletionChoice {
  text: string;
  index: number;
  logprobs: CompletionLogprobs | null;
  finish_reason: FinishReason | null;
}

/** The JSON answer, and (with `finish_reason: null` until the last) each streamed chunk. */
export interface Completion {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  system_fingerprint: string | null;
  choices: CompletionChoice[];
  usage?: Usage | null;
}
