import { randomInt } from "node:crypto";
import { TokenBias, type LlamaModel, type SequenceEvaluateOptions, type Token } from "node-llama-cpp";
import { ApiError, type SamplingParams } from "@slm/config";

/** The options of `LlamaContextSequence.evaluate` that set up its sampler; `samplingFor` fills them. */
type SamplerOptions = Omit<
  SequenceEvaluateOptions,
  "grammarEvaluationState" | "repeatPenalty" | "evaluationPriority" | "contextShift" | "yieldEogToken"
>;

/**
 * What `LlamaContextSequence.evaluate` needs to sample, minus the grammar (built separately, it is async) and with the
 * penalties as numbers: they read the output so far, which only the generation has (see `samplerOptions`).
 */
export type Sampling = SamplerOptions & {
  /** Presence / frequency / repetition penalties; applied to the tokens generated so far. */
  penalties: { penalty: number; presencePenalty: number; frequencyPenalty: number } | undefined;
};

/**
 * Maps OpenAI's sampling parameters onto llama.cpp's sampler chain (logit bias -> penalties -> top-k -> top-p ->
 * min-p -> temperature -> seeded draw; temperature 0 is greedy). Defaults are OpenAI's, not llama.cpp's: temperature 1,
 * top_p 1, no top_k, no min_p, no penalties. A request without a seed gets a random one, so unseeded requests differ.
 */
export function samplingFor(model: LlamaModel, params: SamplingParams, vocabularySize: number): Sampling {
  const topK = params.top_k ?? 0;
  const penalty = params.repetition_penalty ?? 1;
  const presencePenalty = params.presence_penalty ?? 0;
  const frequencyPenalty = params.frequency_penalty ?? 0;
  const tokenBias = params.logit_bias ? logitBias(model, params.logit_bias, vocabularySize) : undefined;
  return {
    temperature: params.temperature ?? 1,
    topP: params.top_p ?? 1,
    topK: Math.max(topK, 0),
    minP: params.min_p ?? 0,
    seed: params.seed == null ? randomInt(2 ** 32) : toUint32(params.seed),
    ...(tokenBias ? { tokenBias } : {}),
    penalties:
      penalty !== 1 || presencePenalty !== 0 || frequencyPenalty !== 0
        ? { penalty, presencePenalty, frequencyPenalty }
        : undefined,
  };
}

/**
 * The sampler's options for `LlamaContextSequence.evaluate`. llama.cpp's sampler reads `generated` (the output so far,
 * which the caller keeps appending to) for the penalties before every token; the window is the whole output, so
 * OpenAI's "text so far" holds.
 */
export function samplerOptions(
  sampling: Sampling,
  generated: readonly Token[],
  maxTokens: number,
): SamplerOptions & Pick<SequenceEvaluateOptions, "repeatPenalty"> {
  const { penalties, ...options } = sampling;
  return {
    ...options,
    repeatPenalty: penalties && { ...penalties, punishTokens: () => generated as Token[], maxPunishTokens: maxTokens },
  };
}

/** OpenAI's logit_bias: added to the token's logit; -100 bans the token. Ids outside the vocabulary are a 400. */
function logitBias(model: LlamaModel, bias: Record<string, number>, vocabularySize: number): TokenBias {
  const tokenBias = new TokenBias(model.tokenizer);
  for (const [key, value] of Object.entries(bias)) {
    const token = Number(key) as Token;
    if (token >= vocabularySize) {
      throw new ApiError(
        400,
        "invalid_request_error",
        "invalid_logit_bias",
        `logit_bias: token id ${token} is outside the vocabulary (0 to ${vocabularySize - 1}).`,
        "logit_bias",
      );
    }
    tokenBias.set(token, value <= -100 ? "never" : { logit: value });
  }
  return tokenBias;
}

/** OpenAI seeds are any integer; llama.cpp's sampler takes a uint32. */
function toUint32(seed: number): number {
  return ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
}
