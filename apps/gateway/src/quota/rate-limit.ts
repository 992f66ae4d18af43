import { ApiError } from "@slm/config";
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../logger.ts";
import { noMetrics, type GatewayMetrics } from "../metrics/metrics.ts";
import { QuotaStoreUnavailableError, type Quota, type QuotaState, type QuotaStore } from "./quota-store.ts";
import { setQuotaFields, tooManyRequests } from "./rate-limit-fields.ts";
import { createTokenMeter } from "./token-meter.ts";
import type { GatewayEnv, Principal } from "../types.ts";

/**
 * Per-principal quotas (a key, or the client address without one): requests per minute (taken on arrival), tokens per
 * minute (checked on arrival, the request's worst case reserved once it is shaped - token-admission.ts - and settled
 * at its usage when the response ends; see inflight.ts and stream-slots.ts for requests and streams at once).
 * Every response carries the fields of its quotas; a refusal is a 429 with Retry-After.
 */

const MINUTE = 60;

export interface RateLimitOptions {
  store: QuotaStore;
  logger?: Logger;
  metrics?: GatewayMetrics;
}

/** The quota store is down and the policy is to fail closed: every request gets this 503. */
export const storeUnavailable = (): ApiError =>
  new ApiError(
    503,
    "service_unavailable",
    "rate_limiter_unavailable",
    "Rate limiting is unavailable; retry shortly.",
    null,
    {
      "Retry-After": "1",
    },
  );

function requestQuota(principal: Principal): Quota {
  return {
    // A user (signed in with a token) counts like a key: its own "requests" quota under its own id.
    name: principal.kind === "ip" ? "ip" : "requests",
    limit: principal.policy.requestsPerMinute,
    windowSec: MINUTE,
  };
}

export function tokenQuota(principal: Principal): Quota {
  return { name: "tokens", limit: principal.policy.tokensPerMinute, windowSec: MINUTE };
}

/** Converts a failing store under the fail-closed policy into a 503. */
export async function guarded<T>(op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (err) {
    if (err instanceof QuotaStoreUnavailableError) throw storeUnavailable();
    throw err;
  }
}

export function rateLimit(options: RateLimitOptions): MiddlewareHandler<GatewayEnv> {
  const { store } = options;
  const metrics = options.metrics ?? noMetrics;
  const logger = options.logger;

  return async function rateLimit(c, next) {
    const principal = c.get("principal");
    const requests = principal.policy.requestsPerMinute > 0 ? requestQuota(principal) : undefined;
    const tokens = principal.policy.tokensPerMinute > 0 ? tokenQuota(principal) : undefined;

    let requestState: QuotaState | undefined;
    let tokenState: QuotaState | undefined;
    if (requests && tokens) {
      [requestState, tokenState] = await guarded(
        Promise.all([store.consume(requests, principal.id), store.peek(tokens, principal.id)]),
      );
    } else if (requests) {
      requestState = await guarded(store.consume(requests, principal.id));
    } else if (tokens) {
      tokenState = await guarded(store.peek(tokens, principal.id));
    }

    if (requests && requestState && !requestState.allowed) {
      metrics.rateLimited(requests.name);
      throw tooManyRequests(
        requests,
        requestState,
        "Rate limit reached for requests; retry after the time in Retry-After.",
      );
    }
    if (tokens && tokenState && !tokenState.allowed) {
      metrics.rateLimited("tokens");
      throw tooManyRequests(
        tokens,
        tokenState,
        "Rate limit reached for tokens; retry after the time in Retry-After.",
        requests && requestState ? { quota: requests, state: requestState } : undefined,
      );
    }
    if (tokens) {
      const onError = (err: unknown) => logger?.warn("tokens not counted", { err, keyId: c.get("apiKeyId") });
      // Reserved once the request is shaped (token-admission.ts), settled by the exchange.
      c.set("meterTokens", createTokenMeter({ store, quota: tokens, key: principal.id, onError }));
    }

    // Into the response header record (see response-headers.ts), for whatever response this request gets.
    const headers = c.get("responseHeaders");
    if (requests && requestState) setQuotaFields(headers, requests, requestState);
    if (tokens && tokenState) setQuotaFields(headers, tokens, tokenState);
    return next();
  };
}
