import { realpath } from "node:fs/promises";
import { basename } from "node:path";
import {
  cacheFile,
  cacheLayout,
  mapCacheWriteError,
  readCommitInfo,
  readRef,
  recordVerifiedFile,
  verifyCachedFile,
  writeCommitInfo,
  writeRef,
  type CacheLayout,
} from "./cache/index.ts";
import { UnverifiableCacheError, type ArtifactRef } from "./errors.ts";
import { checkRevisionPolicy, enforceLock, type LockCheck } from "./policy/index.ts";
import { BLOB_NAME, lookupFile, type RevisionKind } from "./remote/index.ts";
import { resolveOrUseCache } from "./resolve-or-use-cache.ts";
import type { HubSession } from "./session.ts";

export interface ResolveModelFileParams {
  session: HubSession;
  repo: string;
  /** Branch, tag or commit, as the user wrote it. */
  revision: string;
  file: string;
  /** MODEL_SHA256, when the user pins the content. */
  sha256?: string | undefined;
  /** The lockfile entry to enforce, if a lockfile is in force. */
  lock?: LockCheck | undefined;
}

export interface ResolvedModelFile {
  repo: string;
  revision: string;
  commit: string;
  file: string;
  /** Snapshot path (a symlink into blobs/), what llama.cpp loads. */
  path: string;
  size: number;
  sha256: string;
  license: string | undefined;
  /** The model card's `base_model`, when it names one. */
  cardBaseModel: string | undefined;
  source: "download" | "cache" | "offline-cache";
  /** What the revision is on the Hub; undefined when the Hub was not asked. */
  revisionKind: RevisionKind | undefined;
  /** Whether a lockfile entry was enforced. */
  locked: boolean;
  /** Body bytes received from the Hub/CDN for this file by this process. */
  fetchedBytes: number;
}

/**
 * The supply chain for one file: resolve the revision to a commit (and tell tag from branch), hold it to the
 * lockfile and the floating-revision policy, write refs/<revision>, look up the file's size and checksum, then
 * make the Python-compatible cache hold a verified copy (downloaded under a cross-process lock, resumed, hashed
 * on the fly; or reused, trusting its verified marker). With HF_HUB_OFFLINE, or when the Hub cannot be reached or
 * keeps answering 429/5xx, the cached commit for the revision is used and verified from the blob's own name.
 */
export async function resolveModelFile(params: ResolveModelFileParams): Promise<ResolvedModelFile> {
  const { session } = params;
  const layout = cacheLayout(session.cacheDir, params.repo);
  const artifact: ArtifactRef = { repo: params.repo, revision: params.revision, file: params.file };
  const fromCache = (source: "cache" | "offline-cache") => resolveFromCache(params, layout, source, artifact);
  const resolved = await resolveOrUseCache({
    session,
    repo: params.repo,
    revision: params.revision,
    artifact,
    fromCache,
  });
  if (resolved.cached) return resolved.cached;
  const { hub, remote } = resolved;
  const { commit } = remote;
  if (params.lock) enforceLock(params.lock, { commit }, artifact);
  checkRevisionPolicy(remote.kind, commit, { session, locked: params.lock !== undefined }, artifact);
  await Promise.all([writeRef(layout, params.revision, commit), writeCommitInfo(layout, commit, remote)]).catch(
    (error: unknown) => {
      throw mapCacheWriteError(error, artifact, session.cacheDir, 0);
    },
  );

  const remoteFile = await lookupFile(
    hub,
    { repo: params.repo, commit, file: params.file, pinnedSha256: params.sha256, ggufFiles: remote.ggufFiles },
    artifact,
  );
  if (params.lock)
    enforceLock(params.lock, { size: remoteFile.expected.size, sha256: remoteFile.declaredSha256 }, artifact);
  const cached = await cacheFile({ session, hub, layout, commit, file: params.file, remote: remoteFile, artifact });
  if (params.lock) enforceLock(params.lock, { sha256: cached.sha256 }, artifact);
  await recordVerifiedFile(layout, commit, params.file, { size: cached.size, sha256: cached.sha256 }).catch(
    (error: unknown) => {
      throw mapCacheWriteError(error, artifact, session.cacheDir, 0);
    },
  );
  return {
    repo: params.repo,
    revision: params.revision,
    commit,
    file: params.file,
    path: cached.path,
    size: cached.size,
    sha256: cached.sha256,
    license: remote.license,
    cardBaseModel: remote.cardBaseModel,
    source: cached.fetchedBytes > 0 ? "download" : "cache",
    revisionKind: remote.kind,
    locked: params.lock !== undefined,
    fetchedBytes: cached.fetchedBytes,
  };
}

/**
 * The cached artifact for a revision without asking the Hub (HF_HUB_OFFLINE, or the Hub unreachable): the commit
 * the lockfile pins, else `refs/<revision>`; its snapshot verified against its blob name, MODEL_SHA256 and the lock;
 * its licence from the lock, else from what the Hub declared when the commit was last resolved online.
 * Undefined when the cache does not have it.
 */
async function resolveFromCache(
  params: ResolveModelFileParams,
  layout: CacheLayout,
  source: "cache" | "offline-cache",
  artifact: ArtifactRef,
): Promise<ResolvedModelFile | undefined> {
  const commit = params.lock?.locked.commit ?? (await readRef(layout, params.revision));
  if (!commit) return undefined;
  const snapshot = layout.snapshotPath(commit, params.file);
  const blob = await realpath(snapshot).catch(() => undefined);
  if (blob === undefined) return undefined;
  // Something to verify against: MODEL_SHA256, the lock, what the Hub declared when this commit was verified online,
  // or the blob's own name (the Hub cache names blobs by their sha256). A plain file with none of these is refused.
  const info = await readCommitInfo(layout, commit);
  const recorded = info.files[params.file];
  const pins = [params.sha256, params.lock?.locked.sha256, recorded?.sha256].filter(
    (s): s is string => s !== undefined,
  );
  if (pins.length === 0 && !BLOB_NAME.test(basename(blob))) throw new UnverifiableCacheError(artifact);
  const verified = await verifyCachedFile(
    snapshot,
    { sha256: [...new Set(pins)], ...(recorded ? { size: recorded.size } : {}) },
    artifact,
    {
      markerFor: layout.markerPath,
      rehash: params.session.reverify,
    },
  );
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
    source,
    revisionKind: undefined,
    locked: params.lock !== undefined,
    fetchedBytes: 0,
  };
}
