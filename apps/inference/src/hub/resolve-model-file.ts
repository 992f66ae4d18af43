import { cacheLayout, writeRef } from "./cache-layout.ts";
import { cacheFile } from "./cache-file.ts";
import { recordVerifiedFile, writeCommitInfo } from "./commit-info.ts";
import { enforceLock, type LockCheck } from "./enforce-lock.ts";
import type { ArtifactRef, HubError } from "./errors.ts";
import type { EventSink } from "./events.ts";
import { lookupFile } from "./lookup-file.ts";
import { mapCacheWriteError } from "./map-cache-write-error.ts";
import { resolveFromCache } from "./resolve-from-cache.ts";
import { resolveOrUseCache } from "./resolve-or-use-cache.ts";
import type { RevisionKind } from "./resolve-revision.ts";
import { DEFAULT_RETRY, type RetrySettings } from "./retry-policy.ts";
import { checkRevisionPolicy } from "./revision-policy.ts";

export interface ResolveModelFileParams {
  repo: string;
  /** Branch, tag or commit, as the user wrote it. */
  revision: string;
  file: string;
  /** MODEL_SHA256, when the user pins the content. */
  sha256?: string | undefined;
  hubUrl: string;
  cacheDir: string;
  accessToken?: string | undefined;
  offline: boolean;
  /** NODE_ENV=production: a branch is refused unless allowFloatingRevision or a lock pins it. */
  production?: boolean;
  allowFloatingRevision?: boolean;
  /** Rehash cached blobs even when their verified marker matches. */
  reverify?: boolean;
  retry?: RetrySettings;
  /** The lockfile entry to enforce, if a lockfile is in force. */
  lock?: LockCheck | undefined;
  fetch?: typeof fetch;
  onProgress?: (progress: { downloadedBytes: number; totalBytes: number }) => void;
  /** Told when the Hub could not be asked and the cached commit is used instead. */
  onFallback?: (reason: HubError) => void;
  onEvent?: EventSink;
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
  const layout = cacheLayout(params.cacheDir, params.repo);
  const artifact: ArtifactRef = { repo: params.repo, revision: params.revision, file: params.file };
  const fromCache = (source: "cache" | "offline-cache") =>
    resolveFromCache({ ...params, layout, reverify: params.reverify ?? false, source }, artifact);
  const resolved = await resolveOrUseCache({ ...params, artifact, fromCache });
  if (resolved.cached) return resolved.cached;
  const { hub, remote } = resolved;
  const { commit } = remote;
  if (params.lock) enforceLock(params.lock, { commit }, artifact);
  checkRevisionPolicy(
    remote.kind,
    commit,
    { production: params.production ?? false, allowFloating: params.allowFloatingRevision ?? false, locked: params.lock !== undefined },
    artifact,
    params.onEvent,
  );
  await Promise.all([writeRef(layout, params.revision, commit), writeCommitInfo(layout, commit, remote)]).catch((error: unknown) => {
    throw mapCacheWriteError(error, artifact, params.cacheDir, 0);
  });

  const remoteFile = await lookupFile(
    hub,
    { repo: params.repo, commit, file: params.file, pinnedSha256: params.sha256, ggufFiles: remote.ggufFiles },
    artifact,
  );
  if (params.lock) enforceLock(params.lock, { size: remoteFile.expected.size, sha256: remoteFile.declaredSha256 }, artifact);
  const cached = await cacheFile({
    layout,
    commit,
    file: params.file,
    etag: remoteFile.etag,
    expected: remoteFile.expected,
    url: remoteFile.url,
    fetch: hub.fetch,
    authorization: hub.authorization,
    retry: params.retry ?? DEFAULT_RETRY,
    reverify: params.reverify ?? false,
    artifact,
    ...(params.onProgress ? { onProgress: params.onProgress } : {}),
    ...(params.onEvent ? { onEvent: params.onEvent } : {}),
  });
  if (params.lock) enforceLock(params.lock, { sha256: cached.sha256 }, artifact);
  await recordVerifiedFile(layout, commit, params.file, { size: cached.size, sha256: cached.sha256 }).catch((error: unknown) => {
    throw mapCacheWriteError(error, artifact, params.cacheDir, 0);
  });
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
