import type { Usage } from "@slm/config";
import type { ShapedRequest } from "../types.ts";
import type { TokenMeter } from "../types.ts";

/**
 * What one forwarded request is charged in tokens, from what the relay learns of it. Charged before sending: the
 * prompt's estimate now; the real usage when known (the JSON answer's, the stream's usage report); a request that ends
 * without one (the client left, the upstream broke or timed out) pays its prompt and its whole token cap; one that
 * inference never reached or refused pays nothing.
 */
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
): ExchangeTokens {
  if (meter === undefined) return UNMETERED;
  const estimate = promptEstimate(shaped.body);
  const worstCase = estimate + tokenCap(shaped.json);
  meter.reserve(estimate);
  return {
    settleNothing: () => meter.settle(0),
    settleWorstCase: () => meter.settle(worstCase),
    settleAnswer: (text) => meter.settle(totalTokensOf(text) ?? estimate),
    onStreamUsage: (usage, events, complete) =>
      meter.settle(usage?.total_tokens ?? (complete ? estimate + events : worstCase)),
  };
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

const TOTAL_TOKENS = /"total_tokens"\s*:\s*(\d+)/;

/** total_tokens of an answer's usage: found after its last "usage" key, without parsing the whole answer again. */
export function totalTokensOf(text: string): number | undefined {
  const at = text.lastIndexOf('"usage"');
  if (at === -1) return undefined;
  const match = TOTAL_TOKENS.exec(text.slice(at));
  return match ? Number(match[1]) : undefined;
}
