import { ApiError } from "@slm/config";
import type { Quota, QuotaState } from "./quota-store.ts";

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "requests";q=60;w=60` and
 * `RateLimit: "requests";r=12;t=34`. Tokens have no registered quota unit there, so token quotas are advertised the way
 * OpenAI's clients read them: `x-ratelimit-{limit,remaining,reset}-tokens`.
 */

export const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

/** Concurrent streams and requests in flight are "concurrency" quotas: no window. */
const isConcurrency = (quota: Quota) => quota.name === "streams" || quota.name === "inflight";

export function policyField(quota: Quota): string {
  if (isConcurrency(quota)) return `"${quota.name}";q=${quota.limit};qu="concurrency"`;
  return `"${quota.name}";q=${quota.limit};w=${quota.windowSec}`;
}

export function stateField(quota: Quota, state: QuotaState): string {
  if (isConcurrency(quota)) return `"${quota.name}";r=${state.remaining}`;
  return `"${quota.name}";r=${state.remaining};t=${seconds(state.resetMs)}`;
}

/** Sets the fields for one quota on a header record (the request's response headers, or an error's). */
export function setQuotaFields(headers: Record<string, string>, quota: Quota, state: QuotaState): void {
  if (quota.name === "tokens") {
    headers["x-ratelimit-limit-tokens"] = String(quota.limit);
    headers["x-ratelimit-remaining-tokens"] = String(state.remaining);
    headers["x-ratelimit-reset-tokens"] = `${seconds(state.resetMs)}s`;
    return;
  }
  headers["RateLimit-Policy"] = policyField(quota);
  headers["RateLimit"] = stateField(quota, state);
}

/** 429 in the envelope, with Retry-After and the fields of the quota that refused. */
export function tooManyRequests(
  quota: Quota,
  state: QuotaState,
  message: string,
  extra?: { quota: Quota; state: QuotaState },
): ApiError {
  const headers: Record<string, string> = { "Retry-After": String(Math.max(1, seconds(state.resetMs))) };
  if (extra) setQuotaFields(headers, extra.quota, extra.state);
  setQuotaFields(headers, quota, state);
  const code =
    quota.name === "tokens"
      ? "tokens_rate_limit_exceeded"
      : quota.name === "streams"
        ? "concurrent_streams_exceeded"
        : quota.name === "inflight"
          ? "concurrent_requests_exceeded"
          : "rate_limit_exceeded";
  return new ApiError(429, "rate_limit_error", code, message, null, headers);
}
