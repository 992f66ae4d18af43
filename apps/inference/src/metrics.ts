import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from "prom-client";
import type { GenerationResult } from "./engine/index.ts";

/** Why a generation ended before its natural end. */
export type CancelReason = "client_closed" | "deadline" | "shutdown";

/** What the pool gauges read at scrape time. */
export interface PoolState {
  busy: number;
  queued: number;
  size: number;
}

/**
 * Prometheus metrics (prom-client), on their own registry: requests by route and status, queue depth, busy slots,
 * tokens, time to first token, per-token latency, queue wait, cancellations and the tokens generated after one.
 */
export class InferenceMetrics {
  readonly registry = new Registry();
  private poolState: () => PoolState | undefined = () => undefined;

  readonly requests = new Counter({
    name: "inference_http_requests_total",
    help: "HTTP requests answered, by route and status code.",
    labelNames: ["route", "method", "status"] as const,
    registers: [this.registry],
  });
  readonly promptTokens = new Counter({
    name: "inference_prompt_tokens_total",
    help: "Prompt tokens of finished generations (including those reused from a sequence's cache).",
    labelNames: ["route"] as const,
    registers: [this.registry],
  });
  readonly cachedPromptTokens = new Counter({
    name: "inference_prompt_tokens_cached_total",
    help: "Prompt tokens found already evaluated in the sequence and not computed again.",
    labelNames: ["route"] as const,
    registers: [this.registry],
  });
  readonly completionTokens = new Counter({
    name: "inference_completion_tokens_total",
    help: "Tokens sampled by the model.",
    labelNames: ["route"] as const,
    registers: [this.registry],
  });
  readonly timeToFirstToken = new Histogram({
    name: "inference_time_to_first_token_seconds",
    help: "From the request's arrival to its first sampled token (queue wait and prompt evaluation included).",
    labelNames: ["route"] as const,
    buckets: exponentialBuckets(0.005, 2, 14),
    registers: [this.registry],
  });
  readonly tokenLatency = new Histogram({
    name: "inference_time_per_output_token_seconds",
    help: "Time between consecutive sampled tokens of one generation.",
    buckets: exponentialBuckets(0.001, 1.6, 16),
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: "inference_queue_wait_seconds",
    help: "Time a request waited for a free sequence.",
    buckets: exponentialBuckets(0.001, 2.5, 14),
    registers: [this.registry],
  });
  readonly cancellations = new Counter({
    name: "inference_cancellations_total",
    help: "Requests ended early (client gone, deadline, shutdown grace over), waiting or generating, by reason.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly tokensAfterCancel = new Counter({
    name: "inference_generated_after_cancel_tokens_total",
    help: "Tokens the model produced after their request was cancelled (at most the step in flight, per request).",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "inference_" });
    const read = () => this.poolState();
    new Gauge({
      name: "inference_queue_depth",
      help: "Requests waiting for a free sequence.",
      registers: [this.registry],
      collect() {
        this.set(read()?.queued ?? 0);
      },
    });
    new Gauge({
      name: "inference_busy_slots",
      help: "Sequences generating right now.",
      registers: [this.registry],
      collect() {
        this.set(read()?.busy ?? 0);
      },
    });
    new Gauge({
      name: "inference_slots",
      help: "Sequences in the pool (PARALLEL).",
      registers: [this.registry],
      collect() {
        this.set(read()?.size ?? 0);
      },
    });
  }

  /** Where the pool gauges read from, once the engine is loaded. */
  watchPool(state: () => PoolState | undefined): void {
    this.poolState = state;
  }

  /** Times one generation: call `onToken` per sampled token and `finish` once with its result. */
  observeGeneration(route: string, arrivedAt: number): GenerationObserver {
    let last: number | undefined;
    return {
      slotAcquired: () => this.queueWait.observe((performance.now() - arrivedAt) / 1000),
      onToken: () => {
        const now = performance.now();
        if (last === undefined) this.timeToFirstToken.observe({ route }, (now - arrivedAt) / 1000);
        else this.tokenLatency.observe((now - last) / 1000);
        last = now;
      },
      finish: (result: GenerationResult, cancelReason?: CancelReason) => {
        this.promptTokens.inc({ route }, result.promptTokens);
        this.cachedPromptTokens.inc({ route }, result.cachedPromptTokens);
        this.completionTokens.inc({ route }, result.completionTokens);
        if (result.tokensAfterCancel > 0) this.tokensAfterCancel.inc(result.tokensAfterCancel);
        if (result.cancelled) this.cancellations.inc({ reason: cancelReason ?? "client_closed" });
      },
    };
  }
}

export interface GenerationObserver {
  slotAcquired(): void;
  onToken(): void;
  finish(result: GenerationResult, cancelReason?: CancelReason): void;
}
