import { realpath } from "node:fs/promises";
import { basename } from "node:path";
import { readRef, type CacheLayout } from "./cache-layout.ts";
import { readCommitInfo } from "./commit-info.ts";
import { enforceLock, type LockCheck } from "./enforce-lock.ts";
import { UnverifiableCacheError, type ArtifactRef } from "./errors.ts";
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
  const blob = await realpath(snapshot).catch(() => undefined);
  if (blob === undefined) return undefined;
  // Something to verify against: MODEL_SHA256, the lock, what the Hub declared when this commit was verified online,
  // or the blob's own name (the Hub cache names blobs by their sha256). A plain file with none of these is refused.
  const info = await readCommitInfo(params.layout, commit);
  const recorded = info.files[params.file];
  const pins = [params.sha256, params.lock?.locked.sha256, recorded?.sha256].filter((s): s is string => s !== undefined);
  if (pins.length === 0 && !/^[0-9a-f]{64}$/.test(basename(blob)) && !/^[0-9a-f]{40}$/.test(basename(blob))) {
    throw new UnverifiableCacheError(artifact);
  }
  const verified = await verifyCachedFile(snapshot, { sha256: [...new Set(pins)], ...(recorded ? { size: recorded.size } : {}) }, artifact, {
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
    license: params.lock?.locked.license ?? info.license,
    cardBaseModel: info.cardBaseModel,
    source: params.source,
    revisionKind: undefined,
    locked: params.lock !== undefined,
    fetchedBytes: 0,
  };
}
