import { connectHub, type ConnectHubParams, type HubConnection } from "./connect-hub.ts";
import { asHubError, HubUnavailableError, NotCachedError, RateLimitedError, type ArtifactRef, type HubError } from "./errors.ts";
import { resolveRevision, type RemoteRevision } from "./resolve-revision.ts";
import { DEFAULT_RETRY, type RetrySettings } from "./retry-policy.ts";

export interface ResolveOrUseCacheParams<T> extends Omit<ConnectHubParams, "retry" | "artifact"> {
  repo: string;
  revision: string;
  artifact: ArtifactRef;
  offline: boolean;
  retry?: RetrySettings;
  /** What the cache holds for the revision (undefined: nothing usable). */
  fromCache: (source: "cache" | "offline-cache") => Promise<T | undefined>;
  onFallback?: (reason: HubError) => void;
}

export type ResolvedOrCached<T> = { cached: T } | { cached?: undefined; hub: HubConnection; remote: RemoteRevision };

/**
 * The first step every Hub artifact shares: offline, the cache answers (or NotCachedError); online, the revision is
 * resolved on the Hub, and when the Hub cannot be reached or keeps answering 429/5xx the cache answers instead
 * (reported through onFallback), else the Hub's error, marked as having had no cached copy to fall back on.
 */
export async function resolveOrUseCache<T>(params: ResolveOrUseCacheParams<T>): Promise<ResolvedOrCached<T>> {
  const { artifact } = params;
  if (params.offline) {
    const cached = await params.fromCache("offline-cache");
    if (cached === undefined) throw new NotCachedError(artifact);
    return { cached };
  }
  const hub = connectHub({ ...params, retry: params.retry ?? DEFAULT_RETRY, artifact });
  try {
    return { hub, remote: await resolveRevision(hub, params.repo, params.revision, artifact) };
  } catch (error) {
    const typed = asHubError(error, artifact);
    if (!(typed instanceof HubUnavailableError || typed instanceof RateLimitedError)) throw typed;
    const cached = await params.fromCache("cache");
    if (cached !== undefined) {
      params.onFallback?.(typed);
      return { cached };
    }
    throw typed instanceof HubUnavailableError ? new HubUnavailableError(artifact, typed.reason, true) : typed;
  }
}
