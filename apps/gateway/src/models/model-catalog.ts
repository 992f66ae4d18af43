import type { Model } from "@slm/config";

/**
 * The models inference serves, from its /v1/models, cached for `ttlMs` so that resolving a request's model costs no
 * round trip. One refresh at a time; while a refresh fails, the last good list is kept (inference restarting does not
 * make every model unknown), and with none the failure is the caller's (503).
 */

export interface ModelCatalogOptions {
  /** Fetches the served list (the forwarder's GET /v1/models). */
  fetchModels: () => Promise<Model[]>;
  /** Default 10 s. */
  ttlMs?: number;
  now?: () => number;
}

export interface ModelCatalog {
  /** The served models: cached when fresh, else refreshed. */
  list(): Promise<readonly Model[]>;
  /** The cached list when fresh, without waiting; undefined when a refresh is due. */
  fresh(): readonly Model[] | undefined;
}

export function createModelCatalog(options: ModelCatalogOptions): ModelCatalog {
  const ttlMs = options.ttlMs ?? 10_000;
  const now = options.now ?? Date.now;
  let cached: readonly Model[] | undefined;
  let fetchedAt = 0;
  let refreshing: Promise<readonly Model[]> | undefined;

  function refresh(): Promise<readonly Model[]> {
    refreshing ??= options
      .fetchModels()
      .then(
        (models) => {
          cached = models;
          fetchedAt = now();
          return models;
        },
        (err: unknown) => {
          if (cached !== undefined) {
            fetchedAt = now() - ttlMs + Math.min(1000, ttlMs); // try again in a second, not on every request
            return cached;
          }
          throw err;
        },
      )
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  }

  const fresh = () => (cached !== undefined && now() - fetchedAt < ttlMs ? cached : undefined);
  return {
    fresh,
    list: () => {
      const models = fresh();
      return models !== undefined ? Promise.resolve(models) : refresh();
    },
  };
}
