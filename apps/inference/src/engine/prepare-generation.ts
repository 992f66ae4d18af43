import type { LlamaGrammar, LlamaText, Token } from "node-llama-cpp";
import { ApiError, type GenerationParams, type SamplingParams } from "@slm/config";
import type { Engine } from "./load-engine.ts";
import { samplingFor, type Sampling } from "./sampling.ts";
import { resolveStops, type StopSet } from "./stops.ts";

/** A request turned into tokens and sampler settings, checked against the context: ready to run on a sequence. */
export interface PreparedGeneration {
  prompt: Token[];
  /** At most the room left in the context after the prompt. */
  maxTokens: number;
  sampling: Sampling;
  grammar: LlamaGrammar | undefined;
  /** A grammar that starts once the model samples `trigger` (a tool call under `auto`); only without `grammar`. */
  lazyGrammar?: { trigger: Token; grammar: LlamaGrammar };
  stops: StopSet;
  /** Control tokens shown as their text in the answer (a template's thinking tags, as llama-server preserves them). */
  preservedTokens?: ReadonlySet<Token>;
  /** Set when the request asks for logprobs: the alternatives wanted per token (0 to 20). */
  logprobs?: number;
  /** Choices to generate (`n`), each on its own sequence; at most the pool's size. */
  choices: number;
}

export interface PrepareGenerationOptions {
  prompt: Token[];
  /** The sampling parameters go to `samplingFor` as they are; the others shape the prompt, the stops and the grammar. */
  params: SamplingParams & Pick<GenerationParams, "maxTokens" | "stop" | "response_format" | "n">;
  /** Alternatives per token when the request asks for logprobs (chat: top_logprobs; completions: logprobs). */
  logprobs?: number | undefined;
  /** Stops that come with the prompt format (a chat template's end of turn). */
  formatStops?: ReadonlyArray<LlamaText | string | readonly (string | Token)[]>;
  /** The request field the prompt came from, named in the context-length error. */
  promptField: "messages" | "prompt";
  /** A grammar the request's format implies (a forced tool call), used instead of response_format's. */
  grammar?: LlamaGrammar | undefined;
}

/**
 * Everything that can refuse a request happens here, before a slot is taken or a byte is streamed: a prompt that does
 * not fit the context is a 400 with the token counts, an unknown logit_bias token or an unenforceable schema too.
 * A max_tokens beyond the room left is lowered to it (the answer then ends with finish_reason "length").
 */
export async function prepareGeneration(
  engine: Engine,
  options: PrepareGenerationOptions,
): Promise<PreparedGeneration> {
  const { params } = options;
  const prompt = options.prompt;
  const room = engine.contextSize - prompt.length;
  if (room < 1) {
    const what = options.promptField === "messages" ? "messages" : "prompt";
    throw new ApiError(
      400,
      "invalid_request_error",
      "context_length_exceeded",
      `This model's maximum context length is ${engine.contextSize} tokens. However, your ${what} resulted in ` +
        `${prompt.length} tokens, leaving no room for the completion. Please reduce the length of the ${what}.`,
      options.promptField,
    );
  }
  const choices = params.n ?? 1;
  if (choices > engine.pool.size) {
    throw new ApiError(
      400,
      "invalid_request_error",
      "invalid_value",
      `n: at most ${engine.pool.size} choices per request on this server (its PARALLEL); got ${choices}.`,
      "n",
    );
  }
  const grammar = options.grammar ?? (await engine.grammars.grammarFor(params.response_format));
  const requestStops = params.stop == null ? [] : typeof params.stop === "string" ? [params.stop] : params.stop;
  return {
    prompt,
    maxTokens: Math.min(params.maxTokens ?? room, room),
    sampling: samplingFor(engine.model, params, engine.vocabularySize),
    grammar,
    stops: resolveStops(engine.model, [
      ...(options.formatStops ?? []),
      ...(grammar?.stopGenerationTriggers ?? []),
      ...requestStops,
    ]),
    ...(options.logprobs !== undefined ? { logprobs: options.logprobs } : {}),
    choices,
  };
}
