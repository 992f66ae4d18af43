import {
  errorEnvelope,
  sseData,
  sseError,
  SSE_DONE,
  SSE_HEADERS,
  type ErrorEnvelope,
  type FinishReason,
  type Usage,
} from "@slm/config";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import {
  type Engine,
  type PreparedGeneration,
  generate,
  type GenerationResult,
  type PromptCacheScope,
  type TokenLogprob,
  sharePrompt,
} from "../engine/index.ts";
import type { Logger } from "../logger.ts";
import type { GenerationObserver, InferenceMetrics } from "../metrics.ts";
import type { InferenceContext } from "./context.ts";
import { toApiError } from "./errors.ts";
import { PRINCIPAL_HEADER, requestPrincipal } from "./principal.ts";
import { endedRequestError, requestSignal, type RequestSignal } from "./request-signal.ts";

/** Chunks a format sends at one point of a stream: none (undefined), one, or several (an array). */
export type Chunks = unknown;

/** How one choice of an answer is streamed (its own parser state: one per choice). */
export interface ChoiceFormat {
  /** An opening chunk. */
  start?(): Chunks;
  /** Text as it is released, with its tokens' logprobs when asked; undefined while the format holds text back. */
  text(text: string, logprobs?: TokenLogprob[]): Chunks;
  /** What was held back, when the generation ends (and why it ended: a call cut by max_tokens is still a call). */
  end?(finishReason: FinishReason): Chunks;
  finish(finishReason: FinishReason): Chunks;
}

/** One finished choice. */
export interface AnswerChoice {
  index: number;
  text: string;
  finishReason: FinishReason;
  logprobs: TokenLogprob[] | undefined;
}

/** How one API (chat or text completions, responses) spells its answers; the flow around them is shared. */
export interface AnswerFormat {
  /** The JSON answer. */
  complete(choices: readonly AnswerChoice[], usage: Usage): unknown;
  /** Stream chunks of choice `index` (0 to n - 1), interleaved with the other choices' as they come. */
  choice(index: number): ChoiceFormat;
  /** Usage once every choice finished, if the client asked for it. */
  usage?(usage: Usage): Chunks;
  /** One chunk on the wire. Default: `data: <json>`. */
  encode?(chunk: unknown): Uint8Array;
  /** Whether the stream ends with `data: [DONE]`. Default: true. */
  done?: boolean;
}

export interface ServeGenerationDeps {
  engine: Engine;
  metrics: InferenceMetrics;
  log: Logger;
  requestTimeoutMs: number;
  /** Aborts when the shutdown grace period is over. */
  shutdown: AbortSignal;
}

export interface ServeGenerationOptions {
  route: string;
  prepared: PreparedGeneration;
  stream: boolean;
  format: AnswerFormat;
}

/**
 * Runs a prepared generation for one HTTP request: waits for its sequences (one per choice) in its principal's line
 * (`X-Slm-Principal`; or answers 429 when its share of the queue is full), then answers JSON or streams SSE. The
 * slots are taken before a stream starts, so overload is an honest 429 rather than an error inside a 200. A client
 * that leaves, the deadline, or the end of the shutdown grace stop the generation at the next token and free the
 * slots; a stream that breaks after it started ends with `event: error`. With n > 1 choices, the chunks of all
 * choices are interleaved as their tokens come.
 */
export async function serveGeneration(
  c: InferenceContext,
  deps: ServeGenerationDeps,
  options: ServeGenerationOptions,
): Promise<Response> {
  const { engine } = deps;
  const ended = requestSignal({ client: c.req.raw.signal, timeoutMs: deps.requestTimeoutMs, shutdown: deps.shutdown });
  const observer = deps.metrics.observeGeneration(options.route, c.get("arrivedAt"));
  let sequences: LlamaContextSequence[] | undefined;
  try {
    sequences = await engine.pool.acquireMany(
      options.prepared.choices,
      ended.signal,
      requestPrincipal(c.req.header(PRINCIPAL_HEADER)),
      cachedPrefix(options.prepared.prompt, engine.promptCache),
    );
    // What the slots would discard is kept, and a conversation the cache holds is restored (prompt-cache.ts).
    if (engine.promptCache) await engine.promptCache.prepare(sequences, options.prepared.prompt);
  } catch (error) {
    if (sequences !== undefined) for (const sequence of sequences) engine.pool.release(sequence);
    ended.dispose();
    if (ended.reason) deps.metrics.cancellations.inc({ reason: ended.reason });
    throw (ended.reason && endedRequestError(ended.reason, deps.requestTimeoutMs)) ?? error;
  }
  observer.slotAcquired();
  const run = (onText?: OnChoiceText, onChoiceEnd?: RunOnSlotsOptions["onChoiceEnd"]) =>
    runOnSlots(
      c,
      deps,
      { sequences, ended, observer, route: options.route, prepared: options.prepared, ...(onText ? { onText } : {}) },
      onChoiceEnd,
    );

  if (!options.stream) {
    const { results, usage } = await run();
    const error =
      results.some((r) => r.cancelled) && ended.reason
        ? endedRequestError(ended.reason, deps.requestTimeoutMs)
        : undefined;
    if (error) throw error;
    return c.json(options.format.complete(results.map(choiceOf), usage));
  }

  const { format } = options;
  const encode = format.encode ?? sseData;
  const choices = sequences.map((_, index) => format.choice(index));
  // False once we closed the stream or the client cancelled it: nothing may be enqueued after either.
  let open = true;
  const stream = new ReadableStream<Uint8Array>({
    start: (controller) => {
      const send = (bytes: Uint8Array) => {
        if (open) controller.enqueue(bytes);
      };
      const close = () => {
        if (open) controller.close();
        open = false;
      };
      const sendChunks = (chunks: Chunks) => {
        if (chunks === undefined) return;
        if (Array.isArray(chunks)) for (const chunk of chunks) send(encode(chunk));
        else send(encode(chunks));
      };
      const sendError = (envelope: ErrorEnvelope) => send(sseError(envelope));
      for (const choice of choices) if (choice.start) sendChunks(choice.start());
      run(
        (index, text, logprobs) => sendChunks(choices[index]!.text(text, logprobs)),
        (index, result) => {
          // Each choice closes as soon as it ends; a cancelled one is reported once, below.
          if (result.cancelled) return;
          const choice = choices[index]!;
          if (choice.end) sendChunks(choice.end(result.finishReason));
          sendChunks(choice.finish(result.finishReason));
        },
      )
        .then(({ results, usage }) => {
          if (results.some((r) => r.cancelled)) {
            const error = ended.reason && endedRequestError(ended.reason, deps.requestTimeoutMs);
            if (error) sendError(error.toJSON());
          } else {
            if (format.usage) sendChunks(format.usage(usage));
            if (format.done !== false) send(SSE_DONE);
          }
          close();
        })
        .catch((error: unknown) => {
          const api = toApiError(error);
          if (!api) deps.log.error({ err: error, requestId: c.get("requestId") }, "generation failed mid-stream");
          sendError(api?.toJSON() ?? errorEnvelope("server_error", "Generation failed.", { code: "internal_error" }));
          close();
        });
    },
    cancel: () => {
      open = false;
      ended.abort("client_closed");
    },
  });
  return new Response(stream, { status: 200, headers: SSE_HEADERS });
}

type OnChoiceText = (index: number, text: string, logprobs?: TokenLogprob[]) => void;

function choiceOf(result: GenerationResult, index: number): AnswerChoice {
  return { index, text: result.text, finishReason: result.finishReason, logprobs: result.logprobs };
}

interface RunOnSlotsOptions {
  sequences: LlamaContextSequence[];
  ended: RequestSignal;
  observer: GenerationObserver;
  route: string;
  prepared: PreparedGeneration;
  onText?: OnChoiceText;
  /** Called as each choice's generation ends (before the others may have). */
  onChoiceEnd?: (index: number, result: GenerationResult) => void;
}

/**
 * Generates every choice, one per held sequence (the prompt evaluated once and shared when there are several, each
 * choice seeded differently), then gives the sequences back, records throughput and metrics and logs one line.
 */
async function runOnSlots(
  c: InferenceContext,
  deps: ServeGenerationDeps,
  options: Omit<RunOnSlotsOptions, "onChoiceEnd">,
  onChoiceEnd?: RunOnSlotsOptions["onChoiceEnd"],
): Promise<{ results: GenerationResult[]; usage: Usage }> {
  const { engine } = deps;
  const { ended, observer, sequences, prepared } = options;
  const startedAt = performance.now();
  let firstTokenAt: number | undefined;
  try {
    // With several choices, the prompt tokens found cached are counted before sharing evaluates the rest.
    const cachedBefore =
      sequences.length > 1
        ? Math.min(sequences[0]!.compareContextTokens(prepared.prompt).firstDifferentIndex, prepared.prompt.length - 1)
        : 0;
    const shared = sequences.length > 1 ? await sharePrompt(sequences, prepared.prompt) : 0;
    const results = await Promise.all(
      sequences.map(async (sequence, index) => {
        const tokens = index === 0 ? observer : deps.metrics.observeGeneration(options.route, c.get("arrivedAt"));
        const result = await generate(sequence, index === 0 ? prepared : reseeded(prepared, index), {
          signal: ended.signal,
          steps: engine.steps,
          onToken: () => {
            firstTokenAt ??= performance.now();
            tokens.onToken();
          },
          ...(options.onText
            ? { onText: (text: string, logprobs?: TokenLogprob[]) => options.onText!(index, text, logprobs) }
            : {}),
        });
        onChoiceEnd?.(index, result);
        return result;
      }),
    );
    const finishedAt = performance.now();
    const total = results.length > 1 ? { ...merged(results), cachedPromptTokens: cachedBefore } : results[0]!;
    observer.finish(total, ended.reason);
    deps.log.info(
      {
        requestId: c.get("requestId"),
        route: options.route,
        ...(results.length > 1 ? { choices: results.length, sharedPromptSequences: shared } : {}),
        promptTokens: total.promptTokens,
        cachedPromptTokens: total.cachedPromptTokens,
        completionTokens: total.completionTokens,
        finishReason: total.cancelled ? null : results[0]!.finishReason,
        cancelled: total.cancelled ? (ended.reason ?? "client_closed") : undefined,
        queueMs: Math.round(startedAt - c.get("arrivedAt")),
        timeToFirstTokenMs: firstTokenAt === undefined ? undefined : Math.round(firstTokenAt - c.get("arrivedAt")),
        tokensPerSecond:
          firstTokenAt !== undefined && total.completionTokens > 1
            ? Math.round(((total.completionTokens - 1) / (finishedAt - firstTokenAt)) * 1000 * 10) / 10
            : undefined,
      },
      "generation",
    );
    return { results, usage: usageOf(total) };
  } finally {
    for (const sequence of sequences) engine.pool.release(sequence);
    engine.throughput.record((performance.now() - startedAt) / 1000);
    ended.dispose();
  }
}

/** Choice `index` of n: its own seed, so sampled choices differ (greedy ones are equal, as they should be). */
function reseeded(prepared: PreparedGeneration, index: number): PreparedGeneration {
  const seed = prepared.sampling.seed;
  return seed === undefined
    ? prepared
    : { ...prepared, sampling: { ...prepared.sampling, seed: (seed + index) % 2 ** 32 } };
}

/** The choices as one generation: the prompt counted once, completion tokens summed. */
function merged(results: readonly GenerationResult[]): GenerationResult {
  const first = results[0]!;
  if (results.length === 1) return first;
  return {
    ...first,
    completionTokens: results.reduce((sum, r) => sum + r.completionTokens, 0),
    tokensAfterCancel: results.reduce((sum, r) => sum + r.tokensAfterCancel, 0),
    cancelled: results.some((r) => r.cancelled),
  };
}

function usageOf(result: GenerationResult): Usage {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
    prompt_tokens_details: { cached_tokens: result.cachedPromptTokens },
  };
}

/**
 * The pool's `prefer` for a prompt (see slot-pool.ts): the prompt tokens a free sequence holds evaluated already (what
 * generate.ts keeps instead of evaluating again: at most all but the last token), less the tokens of its history the
 * prompt would throw away. So a conversation's next turn takes the slot that holds its history; a new conversation
 * takes an empty slot, or the one holding the shortest history, rather than overwrite a long conversation to save
 * evaluating a shared system prompt; and among equal scores the pool takes the least recently used.
 * With the prompt cache, a slot is worth what it holds or what the cache can restore into it, whichever is more, and
 * a history it would discard is saved rather than lost: it weighs only as a tie-break (the smallest loss first).
 */
function cachedPrefix(
  prompt: Token[],
  cache: PromptCacheScope | undefined,
): (sequence: LlamaContextSequence) => number {
  let fromCache: number | undefined;
  return (sequence) => {
    const common = sequence.compareContextTokens(prompt).firstDifferentIndex;
    const reused = Math.min(common, prompt.length - 1);
    const discarded = Math.max(0, sequence.nextTokenIndex - common);
    if (!cache) return reused - discarded;
    fromCache ??= Math.min(cache.longestPrefix(prompt), prompt.length - 1);
    return Math.max(reused, fromCache) - discarded / (sequence.contextSize + 1);
  };
}
