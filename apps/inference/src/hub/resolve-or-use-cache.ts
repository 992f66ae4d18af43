import { HubUnavailableError, NotCachedError, type ArtifactRef } from "./errors.ts";
import { asHubError, connectHub, resolveRevision, type HubConnection, type RemoteRevision } from "./remote/index.ts";
import type { HubSession } from "./session.ts";

export interface ResolveOrUseCacheParams<T> {
  session: HubSession;
  repo: string;
  revision: string;
  artifact: ArtifactRef;
  /** What the cache holds for the revision (undefined: nothing usable). */
  fromCache: (source: "cache" | "offline-cache") => Promise<T | undefined>;
}

export type ResolvedOrCached<T> = { cached: T } | { cached?: undefined; hub: HubConnection; remote: RemoteRevision };

/**
 * The first step every Hub artifact shares: offline, the cache answers (or NotCachedError); online, the revision is
 * resolved on the Hub, and when it fails in a way that lets a cached copy stand in (the Hub unreachable, or still
 * answering 429/5xx after the retries: see `cacheMayStandIn` in errors.ts) the cache answers instead (reported
 * through onFallback), else the Hub's error, marked as having had no cached copy to fall back on.
 */
export async function resolveOrUseCache<T>(params: ResolveOrUseCacheParams<T>): Promise<ResolvedOrCached<T>> {
  const { artifact, session } = params;
  if (session.offline) {
    const cached = await params.fromCache("offline-cache");
    if (cached === undefined) throw new NotCachedError(artifact);
    return { cached };
  }
  const hub = connectHub(session, artifact);
  try {
    return { hub, remote: await resolveRevision(hub, params.repo, params.revision, artifact) };
  } catch (error) {
    const typed = asHubError(error, artifact);
    if (!typed.cacheMayStandIn) throw typed;
    const cached = await params.fromCache("cache");
    if (cached !== undefined) {
      session.onFallback?.(typed);
      return { cached };
    }
    throw typed instanceof HubUnavailableError
      ? new HubUnavailableError(artifact, typed.reason, true, typed.host)
      : typed;
  }
}
