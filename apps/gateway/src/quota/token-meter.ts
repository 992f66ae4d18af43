import type { TokenMeter } from "../types.ts";
import type { Quota, QuotaStore } from "./quota-store.ts";

/**
 * One request's tokens against its principal's per-minute quota. Admission takes the request's worst case from the
 * window, whole or not at all (`store.reserve`, atomic across requests and, with Redis, across gateways), so a burst
 * of parallel requests is admitted only as far as the quota goes. The exchange then settles at what inference
 * reports: the unused part is given back, a request that ends without a count keeps its worst case. A give-back is
 * dropped once the reservation's window has ended: that window's count is gone, and crediting the next one would let
 * it serve more than the limit.
 */

export interface TokenMeterOptions {
  store: QuotaStore;
  quota: Quota;
  /** The principal's quota bucket (`principal.id`). */
  key: string;
  /** A store failure while counting after the fact (the request is already under way: logged, not thrown). */
  onError: (err: unknown) => void;
  now?: () => number;
}

export function createTokenMeter(options: TokenMeterOptions): TokenMeter {
  const { store, quota, key, onError } = options;
  const now = options.now ?? Date.now;
  let reserved = 0;
  /** When the window holding the admission's reservation ends (ms since the epoch); 0: no admission yet. */
  let windowEndsAt = 0;
  let started = false;
  let settled = false;

  return {
    get started() {
      return started;
    },
    async admit(tokens) {
      const state = await store.reserve(quota, key, tokens);
      if (state.allowed && !settled) {
        reserved += Math.max(0, Math.ceil(tokens));
        windowEndsAt = now() + state.resetMs;
      }
      return state;
    },
    reserve(tokens) {
      started = true;
      const topUp = Math.ceil(tokens) - reserved;
      if (settled || topUp <= 0) return;
      reserved += topUp;
      store.add(quota, key, topUp).catch(onError);
    },
    settle(total) {
      if (settled) return;
      settled = true;
      const difference = Math.max(0, Math.ceil(total)) - reserved;
      if (difference > 0) store.add(quota, key, difference).catch(onError);
      else if (difference < 0 && (windowEndsAt === 0 || now() < windowEndsAt))
        store.release(quota, key, -difference).catch(onError);
    },
  };
}
