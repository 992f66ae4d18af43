import type { Usage } from "@slm/config";
import type { ShapedRequest } from "../types.ts";
import type { TokenMeter } from "../types.ts";

/**
 * What one forwarded request is charged in tokens, from what the relay learns of it. Charged before sending: the
 * prompt's estimate now; the real usage when known (the JSON answer's, the stream's usage report); a request that ends
 * without one (the client left, the upstream broke or timed out) pays its prompt and its whole token cap; one that
 * inference never reached or refused pays nothing.
 *
 * Cached prompt tokens (a replica's sequence already held that prefix: chat and completions report them in
 * `usage.prompt_tokens_details.cached_tokens`, Responses in `usage.input_tokens_details.cached_tokens`) are charged at
 * `cachedTokenWeight` (GATEWAY_CACHED_TOKEN_WEIGHT, 0..1, default 1): charged = (prompt - cached) + cached x weight +
 * completion, i.e. total - cached x (1 - weight), rounded up. Admission still reserves the worst case (the prompt's
 * estimate in full: what is cached is known only afterwards); the settle gives the difference back.
 */
export interface MeterTokensOptions {
  /** What a cached prompt token counts for, from 0 (free) to 1 (a full token, the default). */
  cachedTokenWeight?: number;
}

export interface ExchangeTokens {
  /** Nothing was generated: inference was never reached, or it refused the request. */
  settleNothing(): void;
  /** The exchange ended without a count (the client left, the upstream broke or timed out): prompt + whole cap. */
  settleWorstCase(): void;
  /** A JSON answer: its usage's total_tokens, else the prompt's estimate. */
  settleAnswer(text: string): void;
  /**
   * For the SSE relay's `onUsage`: the stream's usage report, else (ran to its end) the prompt's estimate plus one
   * token per event, else the worst case. Undefined when the request is not metered, so the relay need not watch.
   */
  onStreamUsage: ((usage: Usage | undefined, events: number, complete: boolean) => void) | undefined;
}

const UNMETERED: ExchangeTokens = {
  settleNothing() {},
  settleWorstCase() {},
  settleAnswer() {},
  onStreamUsage: undefined,
};

/**
 * The exchange's tokens on `meter` (set by `rateLimit()` when the principal's tokens are metered): admission has
 * reserved the worst case already (token-admission.ts); the prompt's estimate stays charged whatever happens.
 */
export function meterTokens(
  meter: TokenMeter | undefined,
  shaped: Pick<ShapedRequest, "body" | "json">,
  options: MeterTokensOptions = {},
): ExchangeTokens {
  if (meter === undefined) return UNMETERED;
  const weight = options.cachedTokenWeight ?? 1;
  const estimate = promptEstimate(shaped.body);
  const worstCase = estimate + tokenCap(shaped.json);
  meter.reserve(estimate);
  const charged = (usage: Usage | undefined) => (usage === undefined ? undefined : chargedTokens(usage, weight));
  return {
    settleNothing: () => meter.settle(0),
    settleWorstCase: () => meter.settle(worstCase),
    settleAnswer: (text) => meter.settle(charged(usageOf(text)) ?? estimate),
    onStreamUsage: (usage, events, complete) =>
      meter.settle(charged(usage) ?? (complete ? estimate + events : worstCase)),
  };
}

/** A usage report's tokens, its cached prompt tokens at `weight` (see the header). */
export function chargedTokens(usage: Usage, weight: number): number {
  const total = usage.total_tokens;
  const details = usage.prompt_tokens_details ?? (usage as ResponsesUsageDetails).input_tokens_details;
  const cached = Number(details?.cached_tokens ?? 0);
  if (weight >= 1 || !Number.isFinite(cached) || cached <= 0) return total;
  return Math.max(0, Math.ceil(total - Math.min(cached, total) * (1 - Math.max(0, weight))));
}

/** Responses name the prompt's details `input_tokens_details`. */
interface ResponsesUsageDetails {
  input_tokens_details?: { cached_tokens?: number };
}

/**
 * The most a request may cost: its prompt's estimate plus its whole token cap times `n` (the shaped request, so the
 * cap is clamped to the key's `maxTokens` and `n` within its `maxChoices`). What admission reserves.
 */
export function worstCaseTokens(shaped: Pick<ShapedRequest, "body" | "json">): number {
  return promptEstimate(shaped.body) + tokenCap(shaped.json);
}

/** A prompt's tokens, estimated from the request's bytes (about four per token in English JSON; at least 1). */
function promptEstimate(body: string): number {
  return Math.max(1, Math.ceil(body.length / 4));
}

/** The most tokens the request may generate: its (shaped, so always set) cap, times `n`. */
function tokenCap(json: Record<string, unknown>): number {
  const cap = Number(json["max_completion_tokens"] ?? json["max_tokens"] ?? json["max_output_tokens"] ?? 0);
  const n = Number(json["n"] ?? 1);
  return (Number.isFinite(cap) ? cap : 0) * (Number.isFinite(n) && n > 0 ? n : 1);
}

/** total_tokens of an answer's usage (see usageOf). */
export function totalTokensOf(text: string): number | undefined {
  return usageOf(text)?.total_tokens;
}

const USAGE_OPENING = /^"usage"\s*:\s*\{/;
/** How many `"usage"` keys, from the last, are looked at (a client's metadata may hold a few). */
const USAGE_CANDIDATES = 8;

/**
 * An answer's usage object, without parsing the whole answer again: the last `"usage"` key whose value is an object
 * with a numeric total_tokens (a Responses answer's metadata, which follows its usage, may have a key of that name).
 * Its end is the brace that balances its opening one (strings skipped); a usage is small, so 4 KiB at most is read.
 */
export function usageOf(text: string): Usage | undefined {
  let from = text.length;
  for (let n = 0; n < USAGE_CANDIDATES; n++) {
    const at = text.lastIndexOf('"usage"', from);
    if (at === -1) return undefined;
    from = at - 1;
    const opening = USAGE_OPENING.exec(text.slice(at, at + 64));
    if (opening === null) continue;
    const start = at + opening[0].length - 1;
    let depth = 0;
    let end = -1;
    for (let i = start; i < text.length && i < start + 4096; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 0x22) {
        // A string (a key): skip it, escapes included.
        for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
      } else if (ch === 0x7b) depth++;
      else if (ch === 0x7d && --depth === 0) {
        end = i;
        break;
      }
    }
    if (end === -1) continue;
    try {
      const usage = JSON.parse(text.slice(start, end + 1)) as Usage;
      if (typeof usage.total_tokens === "number") return usage;
    } catch {
      // not JSON after all: look further back
    }
  }
  return undefined;
}
