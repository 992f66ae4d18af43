import { LlamaGrammarEvaluationState, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import type { FinishReason } from "@slm/config";
import { LogprobCapture, type TokenLogprob } from "./logprobs.ts";
import type { PreparedGeneration } from "./prepare-generation.ts";
import { PromptLookup } from "./prompt-lookup.ts";
import { samplerOptions } from "./sampling.ts";
import { endsWithTokenStop, StopMatcher } from "./stops.ts";
import type { StepGate } from "./step-gate.ts";

export interface GenerateHooks {
  /** Aborting stops the generation at the next token (the one being decoded is the last). */
  signal?: AbortSignal;
  /**
   * Text as soon as it is final (text that may still become a stop sequence is held back until ruled out); with
   * `logprobs` asked, the entries of the tokens sampled since the last call come along.
   */
  onText?: (text: string, logprobs?: TokenLogprob[]) => void;
  /** Called once per sampled token, before its text is released: for time-to-first-token and per-token latency. */
  onToken?: () => void;
  /** The context's step gate: keeps concurrent generations in one batch per step (see step-gate.ts). */
  steps?: StepGate<LlamaContextSequence>;
}

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  /** Every token the model sampled for this answer, including a stop sequence's and an end-of-generation token. */
  completionTokens: number;
  /** The prompt tokens found already evaluated in the sequence (prefix reuse), not computed again. */
  cachedPromptTokens: number;
  /** True when the signal ended the generation. */
  cancelled: boolean;
  /** Tokens that came out of the model after the signal fired: at most the one step that was in flight. */
  tokensAfterCancel: number;
  /** When the request asked for logprobs: one entry per token of the answer's text. */
  logprobs?: TokenLogprob[];
}

const REPLACEMENT_CHAR = "\uFFFD";
/** A UTF-8 character is at most 4 bytes, so at most 4 byte-tokens are held while it is incomplete. */
const MAX_PARTIAL_TOKENS = 4;
/** Preceding tokens the detokenizer sees. */
const CONTEXT_TOKENS = 8;

/**
 * Runs one generation on a sequence the caller holds exclusively. The loop is ours rather than LlamaCompletion's so
 * that every sampled token is counted (usage), timed (metrics) and checked against the signal as it arrives: a
 * cancelled request never asks llama.cpp for another token. The sequence keeps the prompt's evaluation, and the next
 * request on it reuses the longest common prefix instead of evaluating it again.
 */
export async function generate(
  sequence: LlamaContextSequence,
  request: PreparedGeneration,
  hooks: GenerateHooks = {},
): Promise<GenerationResult> {
  const model = sequence.model;
  const { signal } = hooks;
  const prompt = request.prompt;

  // Keep the evaluated prefix the new prompt shares with what the sequence holds; at least one token is evaluated.
  await sequence.adaptStateToTokens(prompt.slice(0, -1), false);
  const cachedPromptTokens = Math.min(sequence.nextTokenIndex, prompt.length - 1);
  const input = prompt.slice(cachedPromptTokens);

  const generated: Token[] = [];
  const textParts: string[] = [];
  const stops = new StopMatcher(request.stops.texts);
  // Only when logprobs are asked: the sampler then also reports the next-token distribution (see logprobs.ts).
  const capture = request.logprobs === undefined ? undefined : new LogprobCapture(sequence.context, request.logprobs);
  const emit = (text: string) => {
    if (text.length === 0) return;
    textParts.push(text);
    if (!capture) hooks.onText?.(text);
    else {
      const logprobs = capture.take(); // taken even without a listener: the result lists them
      hooks.onText?.(text, logprobs);
    }
  };
  let pending: Token[] = [];
  let finishReason: FinishReason = "length";
  let cancelled = false;
  let tokensAfterCancel = 0;
  let stoppedByStop = false;

  if (signal?.aborted) return result();

  const lookup = sequence.tokenPredictor instanceof PromptLookup ? sequence.tokenPredictor : undefined;
  lookup?.begin(request);
  // A lazy grammar (tool calls under auto) starts with the token after its trigger: read before each sampling.
  const lazy = request.grammar ? undefined : request.lazyGrammar;
  let lazyState: LlamaGrammarEvaluationState | undefined;
  const iterator = sequence.evaluateWithMetadata(input, capture ? { probabilities: true } : {}, {
    ...samplerOptions(request.sampling, generated, request.maxTokens),
    ...(request.grammar
      ? { grammarEvaluationState: new LlamaGrammarEvaluationState({ model, grammar: request.grammar }) }
      : lazy
        ? { grammarEvaluationState: () => lazyState }
        : {}),
    // Context shift never happens: maxTokens fits the room left after the prompt.
    yieldEogToken: true,
  });
  try {
    for await (const step of iterator) {
      const token = step.token;
      if (signal?.aborted) {
        tokensAfterCancel++;
        cancelled = true;
        break;
      }
      generated.push(token);
      hooks.onToken?.();
      if (lazy && !lazyState && token === lazy.trigger)
        lazyState = new LlamaGrammarEvaluationState({ model, grammar: lazy.grammar });
      if (model.isEogToken(token)) {
        finishReason = "stop";
        break;
      }
      if (capture) capture.push(token, (step as { probabilities?: Map<Token, number> }).probabilities);
      pending.push(token);
      const last = generated.length >= request.maxTokens;
      let text = decode(model, pending, prompt, generated, request.preservedTokens);
      // A partial multi-byte character waits for the rest before anything is released; one still incomplete when
      // the answer ends is dropped, as llama-server drops it.
      if (!text.endsWith(REPLACEMENT_CHAR) || pending.length >= MAX_PARTIAL_TOKENS || last) {
        if (last && text.endsWith(REPLACEMENT_CHAR) && pending.length < MAX_PARTIAL_TOKENS) text = dropIncomplete(text);
        pending = [];
        const { emit: safe, stopped } = stops.push(text);
        emit(safe);
        if (stopped || endsWithTokenStop(generated, request.stops.tokenSequences)) {
          finishReason = "stop";
          stoppedByStop = true;
          break;
        }
      }
      if (generated.length >= request.maxTokens) break;
      await hooks.steps?.arrive(sequence, signal);
      // Checked before asking for the next token: a cancelled request costs at most the step already in flight.
      if (signal?.aborted) {
        cancelled = true;
        break;
      }
    }
  } finally {
    hooks.steps?.leave(sequence);
    lookup?.end();
  }
  if (!stoppedByStop && !cancelled) {
    if (pending.length > 0)
      emit(stops.push(dropIncomplete(decode(model, pending, prompt, generated, request.preservedTokens))).emit);
    emit(stops.flush());
  }
  return result();

  function result(): GenerationResult {
    return {
      text: textParts.join(""),
      finishReason,
      promptTokens: prompt.length,
      completionTokens: generated.length,
      cachedPromptTokens,
      cancelled: cancelled || (signal?.aborted ?? false),
      tokensAfterCancel,
      ...(capture ? { logprobs: capture.emitted } : {}),
    };
  }
}

/** Text without the replacement characters of a multi-byte character whose last bytes never came. */
function dropIncomplete(text: string): string {
  return text.replace(/\uFFFD+$/, "");
}

/** Text of the pending tokens, given the tokens before them (the detokenizer needs them to place leading spaces). */
function decode(
  model: LlamaModel,
  pending: readonly Token[],
  prompt: readonly Token[],
  generated: readonly Token[],
  preserved?: ReadonlySet<Token>,
): string {
  // Control tokens decode to nothing, except the preserved ones (a template's thinking tags), shown as their text.
  if (preserved && pending.some((t) => preserved.has(t))) {
    return pending
      .map((t, i) =>
        preserved.has(t)
          ? model.detokenize([t], true)
          : decode(model, [t], prompt, generated.slice(0, generated.length - pending.length + i + 1)),
      )
      .join("");
  }
  const end = generated.length - pending.length;
  const before =
    end >= CONTEXT_TOKENS
      ? generated.slice(end - CONTEXT_TOKENS, end)
      : [...prompt.slice(-CONTEXT_TOKENS), ...generated.slice(0, end)];
  return model.detokenize(pending, false, before.slice(-CONTEXT_TOKENS));
}
