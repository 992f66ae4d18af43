import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from "prom-client";
import type { GenerationResult, PromptCacheEvents, PromptCacheStats } from "./engine/index.ts";

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
  private promptCacheState: () => PromptCacheStats | undefined = () => undefined;

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

  readonly promptCacheLookups = new Counter({
    name: "inference_prompt_cache_lookups_total",
    help: "Prompts that looked in the prompt cache for more than their slot held, by result (hit: a state was restored).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly promptCacheRestoredTokens = new Counter({
    name: "inference_prompt_cache_restored_tokens_total",
    help: "Prompt tokens restored from the prompt cache instead of evaluated.",
    registers: [this.registry],
  });
  readonly promptCacheSaves = new Counter({
    name: "inference_prompt_cache_saves_total",
    help: "Conversation states saved when they had to leave their slot.",
    registers: [this.registry],
  });
  readonly promptCacheEvictions = new Counter({
    name: "inference_prompt_cache_evictions_total",
    help: "Entries let go to stay within PROMPT_CACHE_BYTES (ram) or PROMPT_CACHE_DISK_BYTES (disk).",
    labelNames: ["tier"] as const,
    registers: [this.registry],
  });
  readonly promptCacheFailures = new Counter({
    name: "inference_prompt_cache_failures_total",
    help: "Saves, restores or disk writes of the prompt cache that failed (the request went on without it).",
    labelNames: ["operation"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "inference_" });
    const cache = () => this.promptCacheState();
    for (const [name, help, field] of [
      ["inference_prompt_cache_bytes", "Bytes of conversation states in the prompt cache's RAM.", "ramBytes"],
      ["inference_prompt_cache_entries", "Conversation states in the prompt cache's RAM.", "ramEntries"],
      ["inference_prompt_cache_disk_bytes", "Bytes of conversation states in PROMPT_CACHE_DIR.", "diskBytes"],
      ["inference_prompt_cache_disk_entries", "Conversation states in PROMPT_CACHE_DIR.", "diskEntries"],
    ] as const) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(cache()?.[field] ?? 0);
        },
      });
    }
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

  /** Where the prompt cache gauges read from. */
  watchPromptCache(stats: () => PromptCacheStats | undefined): void {
    this.promptCacheState = stats;
  }

  /** The prompt cache's events as counters (hit ratio = hit / (hit + miss)); failures also go to `onFailure`. */
  promptCacheEvents(onFailure: PromptCacheEvents["failed"]): PromptCacheEvents {
    return {
      lookup: (restored) => {
        this.promptCacheLookups.inc({ result: restored > 0 ? "hit" : "miss" });
        if (restored > 0) this.promptCacheRestoredTokens.inc(restored);
      },
      saved: () => this.promptCacheSaves.inc(),
      evicted: (tier) => this.promptCacheEvictions.inc({ tier }),
      failed: (operation, error) => {
        this.promptCacheFailures.inc({ operation });
        onFailure(operation, error);
      },
    };
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
