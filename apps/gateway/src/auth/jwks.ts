import { createLocalJWKSet, errors, type FlattenedJWSInput, type JWSHeaderParameters } from "jose";
import type { Logger } from "../logger.ts";
import { JwksUnavailableError } from "./token-errors.ts";

/**
 * The identity provider's signing keys (GATEWAY_JWT_JWKS_URL), cached. jose selects and imports the keys
 * (`createLocalJWKSet`); fetching and caching are done here rather than with jose's `createRemoteJWKSet`, whose rules
 * differ from the ones the gateway needs:
 *
 * - jose reloads a set older than `cacheMaxAge` *before* verifying and throws when that reload fails, so once the
 *   JWKS has been unreachable for longer than that, cached keys stop working. Here a stale set is refreshed in the
 *   background and cached keys keep verifying however long the JWKS is unreachable.
 * - jose's cooldown only starts on a successful fetch, so while the JWKS is down every unknown `kid` fetches again.
 *   Here an unknown `kid` refetches at most once per `cooldownMs` (30 s), whatever the outcome.
 * - jose cannot tell "this key is unknown" (401) from "the keys cannot be had" (503). Here: no cached key at all, or an
 *   unknown `kid` whose refetch failed (or that meets the cooldown after a failed fetch), is a JwksUnavailableError.
 *
 * An unknown `kid` after a successful refetch is jose's JWKSNoMatchingKey: the token is refused (401).
 */

export interface JwksOptions {
  url: string;
  /** Stands in for the global fetch (tests). */
  fetch?: typeof fetch;
  /** Milliseconds; stands in for Date.now (tests). */
  now?: () => number;
  /** An unknown `kid` refetches at most this often. Default 30 s. */
  cooldownMs?: number;
  /** A set older than this is refreshed in the background on its next use. Default 10 min. */
  maxAgeMs?: number;
  /** With no key cached at all, fetch at most this often. Default 1 s. */
  retryMs?: number;
  /** Per fetch. Default 5 s. */
  timeoutMs?: number;
  /** Largest JWKS accepted. Default 256 KiB. */
  maxBytes?: number;
  logger?: Logger;
}

export interface Jwks {
  /** jose's key lookup for `jwtVerify` (asymmetric algorithms only: jose refuses HS* with a key set). */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey>;
  /** Fetches now (once at a time); true when it succeeded. */
  refresh(): Promise<boolean>;
  /** How many keys are cached. */
  readonly size: number;
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

export function createJwks(options: JwksOptions): Jwks {
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const cooldownMs = options.cooldownMs ?? 30_000;
  const maxAgeMs = options.maxAgeMs ?? 600_000;
  const retryMs = options.retryMs ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const logger = options.logger;

  let local: LocalSet | undefined;
  let size = 0;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let attemptedAt = Number.NEGATIVE_INFINITY;
  let refetchedAt = Number.NEGATIVE_INFINITY;
  let lastFetchOk = false;
  let pending: Promise<boolean> | undefined;

  async function download(): Promise<{ set: LocalSet; size: number }> {
    const response = await doFetch(options.url, {
      headers: { accept: "application/jwk-set+json, application/json" },
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw new Error(`JWKS answered ${response.status}`);
    }
    const declared = Number(response.headers.get("content-length"));
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel().catch(() => {});
      throw new Error("JWKS too large");
    }
    const text = await response.text();
    if (text.length > maxBytes) throw new Error("JWKS too large");
    const json = JSON.parse(text) as { keys?: unknown };
    const set = createLocalJWKSet(json as Parameters<typeof createLocalJWKSet>[0]);
    return { set, size: Array.isArray(json.keys) ? json.keys.length : 0 };
  }

  function refresh(): Promise<boolean> {
    pending ??= (async () => {
      attemptedAt = now();
      try {
        const next = await download();
        local = next.set;
        size = next.size;
        fetchedAt = now();
        if (!lastFetchOk) logger?.info("jwks fetched", { keys: size });
        lastFetchOk = true;
        return true;
      } catch (err) {
        // The URL is configuration, not a secret, but the log says what failed rather than where.
        logger?.warn("jwks not fetched: cached keys stay in use", { err, cachedKeys: size });
        lastFetchOk = false;
        return false;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  }

  async function getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    // Set when this very call waited for a fetch: the set is as fresh as it gets, no refetch for an unknown kid.
    let fetchedForThisToken = false;
    if (local === undefined) {
      if (pending) await pending;
      else if (now() - attemptedAt >= retryMs) await refresh();
      fetchedForThisToken = true;
      if (local === undefined) throw new JwksUnavailableError();
    } else if (now() - fetchedAt >= maxAgeMs && now() - attemptedAt >= cooldownMs && !pending) {
      void refresh();
    }
    const set: LocalSet = local;
    try {
      return await set(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
    }
    // A key this set does not hold: rotated in since the last fetch, or never published.
    if (pending) {
      await pending;
    } else if (!fetchedForThisToken && now() - refetchedAt >= cooldownMs) {
      refetchedAt = now();
      await refresh();
    }
    // The last fetch failed: whether the key exists cannot be known (a 503, not a 401).
    if (!lastFetchOk || local === undefined) throw new JwksUnavailableError();
    return local(header, token);
  }

  return {
    getKey,
    refresh,
    get size() {
      return size;
    },
  };
}
