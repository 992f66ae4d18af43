import { ApiError } from "@slm/config";
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../logger.ts";
import { noMetrics, type GatewayMetrics } from "../metrics/metrics.ts";
import { QuotaStoreUnavailableError, type Quota, type QuotaState, type QuotaStore } from "./quota-store.ts";
import { setQuotaFields, tooManyRequests } from "./rate-limit-fields.ts";
import type { GatewayEnv, Principal } from "../types.ts";

/**
 * Per-principal quotas (a key, or the client address without one): requests per minute (taken on arrival), tokens per
 * minute (checked on arrival, counted from usage when the response ends; see stream-slots.ts for open streams).
 * Every response carries the fields of its quotas; a refusal is a 429 with Retry-After.
 */

const MINUTE = 60;

export interface RateLimitOptions {
  store: QuotaStore;
  logger?: Logger;
  metrics?: GatewayMetrics;
}

const storeUnavailable = () =>
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
    name: principal.kind === "key" ? "requests" : "ip",
    limit: principal.policy.requestsPerMinute,
    windowSec: MINUTE,
  };
}

function tokenQuota(principal: Principal): Quota {
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
      const warn = (err: unknown) => logger?.warn("tokens not counted", { err, keyId: c.get("apiKeyId") });
      let reserved = 0;
      let settled = false;
      c.set("meterTokens", {
        reserve(count) {
          if (settled || count <= 0) return;
          reserved += count;
          store.add(tokens, principal.id, count).catch(warn);
        },
        settle(total) {
          if (settled) return;
          settled = true;
          const difference = Math.ceil(total) - reserved;
          if (difference > 0) store.add(tokens, principal.id, difference).catch(warn);
          else if (difference < 0) store.release(tokens, principal.id, -difference).catch(warn);
        },
      });
    }

    // Into the response header record (see response-headers.ts), for whatever response this request gets.
    const headers = c.get("responseHeaders");
    if (requests && requestState) setQuotaFields(headers, requests, requestState);
    if (tokens && tokenState) setQuotaFields(headers, tokens, tokenState);
    return next();
  };
}
