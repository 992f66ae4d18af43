import { realpath } from "node:fs/promises";
import { readRef, type CacheLayout } from "./cache-layout.ts";
import { readCommitInfo } from "./commit-info.ts";
import { enforceLock, type LockCheck } from "./enforce-lock.ts";
import type { ArtifactRef } from "./errors.ts";
import type { ResolvedModelFile } from "./resolve-model-file.ts";
import { verifyCachedFile } from "./verify-cached-file.ts";

export interface ResolveFromCacheParams {
  layout: CacheLayout;
  repo: string;
  revision: string;
  file: string;
  /** MODEL_SHA256 */
  sha256?: string | undefined;
  lock?: LockCheck | undefined;
  reverify: boolean;
  source: "cache" | "offline-cache";
}

/**
 * The cached artifact for a revision without asking the Hub (HF_HUB_OFFLINE, or the Hub unreachable): the commit
 * the lockfile pins, else `refs/<revision>`; its snapshot verified against its blob name, MODEL_SHA256 and the lock;
 * its licence from the lock, else from what the Hub declared when the commit was last resolved online.
 * Undefined when the cache does not have it.
 */
export async function resolveFromCache(params: ResolveFromCacheParams, artifact: ArtifactRef): Promise<ResolvedModelFile | undefined> {
  const commit = params.lock?.locked.commit ?? (await readRef(params.layout, params.revision));
  if (!commit) return undefined;
  const snapshot = params.layout.snapshotPath(commit, params.file);
  if ((await realpath(snapshot).catch(() => undefined)) === undefined) return undefined;
  const verified = await verifyCachedFile(snapshot, params.sha256 ? { sha256: [params.sha256] } : {}, artifact, {
    markerFor: params.layout.markerPath,
    rehash: params.reverify,
  });
  if (params.lock) enforceLock(params.lock, { size: verified.size, sha256: verified.sha256 }, artifact);
  return {
    repo: params.repo,
    revision: params.revision,
    commit,
    file: params.file,
    path: snapshot,
    size: verified.size,
    sha256: verified.sha256,
    license: params.lock?.locked.license ?? (await readCommitInfo(params.layout, commit)).license,
    source: params.source,
    revisionKind: undefined,
    locked: params.lock !== undefined,
    fetchedBytes: 0,
  };
}
