import { errorEnvelope, sseData, sseError, SSE_DONE, SSE_HEADERS, type FinishReason, type Usage } from "@slm/config";
import type { LlamaContextSequence } from "node-llama-cpp";
import type { Engine } from "../engine/load-engine.ts";
import type { PreparedGeneration } from "../engine/prepare-generation.ts";
import { generate, type GenerationResult } from "../engine/generate.ts";
import type { Logger } from "../logger.ts";
import type { GenerationObserver, InferenceMetrics } from "../metrics.ts";
import type { InferenceContext } from "./context.ts";
import { toApiError } from "./errors.ts";
import { endedRequestError, requestSignal, type RequestSignal } from "./request-signal.ts";

/** How one API (chat or text completions) spells its answers; the flow around them is shared. */
export interface AnswerFormat {
  /** The JSON answer. */
  complete(text: string, finishReason: FinishReason, usage: Usage): unknown;
  /**
   * Stream chunks: an optional opening chunk, text (undefined while the format holds text back, or an array of
   * chunks), what was held back when the generation ends, the finish reason, then usage if the client asked for it.
   */
  start?(): unknown;
  text(text: string): unknown;
  end?(): unknown;
  finish(finishReason: FinishReason): unknown;
  usage?(usage: Usage): unknown;
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
 * Runs a prepared generation for one HTTP request: waits for a sequence (or answers 429 at once when the queue is
 * full), then answers JSON or streams SSE. The slot is taken before a stream starts, so overload is an honest 429
 * rather than an error inside a 200. A client that leaves, the deadline, or the end of the shutdown grace stop the
 * generation at the next token and free the slot; a stream that breaks after it started ends with `event: error`.
 */
export async function serveGeneration(c: InferenceContext, deps: ServeGenerationDeps, options: ServeGenerationOptions): Promise<Response> {
  const { engine } = deps;
  const ended = requestSignal({ client: c.req.raw.signal, timeoutMs: deps.requestTimeoutMs, shutdown: deps.shutdown });
  const observer = deps.metrics.observeGeneration(options.route, c.get("arrivedAt"));
  let sequence: LlamaContextSequence;
  try {
    sequence = await engine.pool.acquire(ended.signal);
  } catch (error) {
    ended.dispose();
    if (ended.reason) deps.metrics.cancellations.inc({ reason: ended.reason });
    throw (ended.reason && endedRequestError(ended.reason, deps.requestTimeoutMs)) ?? error;
  }
  observer.slotAcquired();
  const run = (onText?: (text: string) => void) =>
    runOnSlot(c, deps, { sequence, ended, observer, route: options.route, prepared: options.prepared, ...(onText ? { onText } : {}) });

  if (!options.stream) {
    const result = await run();
    const error = result.cancelled && ended.reason ? endedRequestError(ended.reason, deps.requestTimeoutMs) : undefined;
    if (error) throw error;
    return c.json(options.format.complete(result.text, result.finishReason, usageOf(result)));
  }

  const { format } = options;
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
      if (format.start) send(sseData(format.start()));
      // A format may answer several chunks at once (a tool call's opening delta and its arguments).
      const sendChunk = (chunk: unknown) => {
        if (Array.isArray(chunk)) for (const one of chunk) send(sseData(one));
        else if (chunk !== undefined) send(sseData(chunk));
      };
      run((text) => sendChunk(format.text(text)))
        .then((result) => {
          if (!result.cancelled && format.end) sendChunk(format.end());
          if (result.cancelled) {
            const error = ended.reason && endedRequestError(ended.reason, deps.requestTimeoutMs);
            if (error) send(sseError(error.toJSON()));
          } else {
            send(sseData(format.finish(result.finishReason)));
            if (format.usage) send(sseData(format.usage(usageOf(result))));
            send(SSE_DONE);
          }
          close();
        })
        .catch((error: unknown) => {
          const api = toApiError(error);
          if (!api) deps.log.error({ err: error, requestId: c.get("requestId") }, "generation failed mid-stream");
          send(sseError(api?.toJSON() ?? errorEnvelope("server_error", "Generation failed.", { code: "internal_error" })));
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

interface RunOnSlotOptions {
  sequence: LlamaContextSequence;
  ended: RequestSignal;
  observer: GenerationObserver;
  route: string;
  prepared: PreparedGeneration;
  onText?: (text: string) => void;
}

/** Generates on the held sequence, then gives it back, records throughput and metrics and logs one summary line. */
async function runOnSlot(c: InferenceContext, deps: ServeGenerationDeps, options: RunOnSlotOptions): Promise<GenerationResult> {
  const { engine } = deps;
  const { ended, observer } = options;
  const startedAt = performance.now();
  let firstTokenAt: number | undefined;
  try {
    const result = await generate(options.sequence, options.prepared, {
      signal: ended.signal,
      steps: engine.steps,
      onToken: () => {
        firstTokenAt ??= performance.now();
        observer.onToken();
      },
      ...(options.onText ? { onText: options.onText } : {}),
    });
    const finishedAt = performance.now();
    observer.finish(result, ended.reason);
    deps.log.info(
      {
        requestId: c.get("requestId"),
        route: options.route,
        promptTokens: result.promptTokens,
        cachedPromptTokens: result.cachedPromptTokens,
        completionTokens: result.completionTokens,
        finishReason: result.cancelled ? null : result.finishReason,
        cancelled: result.cancelled ? (ended.reason ?? "client_closed") : undefined,
        queueMs: Math.round(startedAt - c.get("arrivedAt")),
        timeToFirstTokenMs: firstTokenAt === undefined ? undefined : Math.round(firstTokenAt - c.get("arrivedAt")),
        tokensPerSecond:
          firstTokenAt !== undefined && result.completionTokens > 1
            ? Math.round(((result.completionTokens - 1) / (finishedAt - firstTokenAt)) * 1000 * 10) / 10
            : undefined,
      },
      "generation",
    );
    return result;
  } finally {
    engine.pool.release(options.sequence);
    engine.throughput.record((performance.now() - startedAt) / 1000);
    ended.dispose();
  }
}

function usageOf(result: GenerationResult): Usage {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
  };
}
