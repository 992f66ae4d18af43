import type { MiddlewareHandler } from "hono";
import { noMetrics } from "../metrics/metrics.ts";
import type { GatewayEnv } from "../types.ts";
import { worstCaseTokens } from "../upstream/index.ts";
import { guarded, tokenQuota, type RateLimitOptions } from "./rate-limit.ts";
import { setQuotaFields, tooManyRequests } from "./rate-limit-fields.ts";

/**
 * Token admission, once the request is shaped: its worst case - the prompt's estimate plus its (clamped) token cap
 * times `n` - is reserved against the principal's tokens per minute, whole or not at all, before anything is sent.
 * A burst of parallel requests is thus admitted only as far as the quota goes (40 requests of up to 120 tokens
 * against 300 a minute: 2 admitted, 38 refused), where checking the usage so far admitted all of them. The exchange
 * settles the reservation at the real usage (the unused part given back); a request refused or failed before it
 * reached the forwarder gives back everything.
 */
export function tokenAdmission(options: RateLimitOptions): MiddlewareHandler<GatewayEnv> {
  const metrics = options.metrics ?? noMetrics;
  return async function tokenAdmission(c, next) {
    const meter = c.get("meterTokens");
    if (meter === undefined) return next();
    const quota = tokenQuota(c.get("principal"));
    const needed = worstCaseTokens(c.get("shaped"));
    const state = await guarded(meter.admit(needed));
    if (!state.allowed) {
      metrics.rateLimited("tokens");
      throw tooManyRequests(
        quota,
        state,
        needed > quota.limit
          ? `This request may use up to ${needed} tokens (prompt estimate + max_tokens x n), more than this key's ` +
              `limit of ${quota.limit} tokens per minute; lower max_tokens or n.`
          : `Rate limit reached for tokens: this request may use up to ${needed} tokens (prompt estimate + ` +
              `max_tokens x n) and ${state.remaining} of ${quota.limit} per minute are left; retry after the time ` +
              "in Retry-After, or lower max_tokens.",
      );
    }
    // Never sent (a later refusal, an error or the client gone before forwarding): nothing was generated, all of it
    // goes back. Once sent, the exchange settles it (forward.ts). No await between the reservation and this.
    c.get("scope").defer(() => {
      if (!meter.started) meter.settle(0);
    });
    setQuotaFields(c.get("responseHeaders"), quota, state);
    return next();
  };
}
