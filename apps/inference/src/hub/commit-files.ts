import { lstat, realpath } from "node:fs/promises";
import { basename } from "node:path";
import {
  cacheFile,
  mapCacheWriteError,
  readCommitInfo,
  recordVerifiedFile,
  verifyCachedFile,
  type CacheLayout,
  type CommitInfo,
} from "./cache/index.ts";
import {
  EntryNotFoundError,
  HubError,
  HubUnavailableError,
  NotCachedError,
  UnverifiableCacheError,
  type ArtifactRef,
} from "./errors.ts";
import { enforceLock, type LockCheck } from "./policy/index.ts";
import { BLOB_NAME, lookupFiles, type HubConnection, type RemoteFile, type RevisionKind } from "./remote/index.ts";
import type { HubSession } from "./session.ts";

/** One file wanted from a repo at a commit. */
export interface FileRequest {
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

export interface CommitFilesParams {
  session: HubSession;
  layout: CacheLayout;
  repo: string;
  /** The revision as configured (for messages and results); `commit` is what it resolved to. */
  revision: string;
  commit: string;
  /**
   * The Hub, when the revision was resolved there (with what it said about the commit); undefined when the commit
   * comes from the cache (offline, or the Hub unusable): every file then comes from the cache, as `source`.
   */
  online:
    | {
        hub: HubConnection;
        kind: RevisionKind;
        license: string | undefined;
        cardBaseModel: string | undefined;
        /** The repo's .gguf files, named when a file is not found. */
        ggufFiles: readonly string[];
      }
    | undefined;
  /** How a file served from the cache without the Hub is reported when the Hub was not asked. */
  source?: "cache" | "offline-cache";
}

export interface CommitFiles {
  /** Looks up these files on the Hub in one `paths-info` request (those the cache already vouches for are skipped). */
  prefetch(files: readonly FileRequest[]): Promise<void>;
  /** The file, verified in the cache: reused, or downloaded; from the cache alone when the Hub is unusable. */
  resolve(request: FileRequest): Promise<ResolvedModelFile>;
  /** The file from the cache alone, verified; undefined when the cache does not have it. */
  cached(request: FileRequest): Promise<ResolvedModelFile | undefined>;
}

/**
 * The files of one repo at one commit. A commit is immutable, so a file this service already verified online at
 * this commit (its size and sha256 are recorded beside the cache) and whose snapshot is still there is served from
 * the cache without asking the Hub, as the Python client does for a commit; the others are looked up together, in
 * one `paths-info` request, then reused or downloaded. When a Hub call fails in a way that lets a cached copy stand
 * in (429, 5xx, unreachable: see `cacheMayStandIn`), the file's cached snapshot at this commit is verified and
 * served instead (reported through onFallback), so a cached model starts while the Hub rate-limits.
 */
export function commitFiles(params: CommitFilesParams): CommitFiles {
  const { session, layout, repo, revision, commit, online } = params;
  const artifactOf = (file: string): ArtifactRef => ({ repo, revision, file });
  const remote = new Map<string, RemoteFile>();
  const asked = new Set<string>();
  /** The failure of a lookup a cached copy may stand in for: the files it concerned come from the cache. */
  let unusable: HubError | undefined;
  /** Fallbacks already reported (one failed lookup stands for several files: it is told once). */
  const reported = new Set<HubError>();
  let recorded: Promise<CommitInfo> | undefined;
  const commitInfo = () => {
    recorded ??= readCommitInfo(layout, commit);
    return recorded;
  };
  const vouchedFor = async (file: string) =>
    (await commitInfo()).files[file] !== undefined &&
    (await lstat(layout.snapshotPath(commit, file)).then(
      () => true,
      () => false,
    ));

  const result = (
    request: FileRequest,
    file: { path: string; size: number; sha256: string },
    source: ResolvedModelFile["source"],
    license: string | undefined,
    cardBaseModel: string | undefined,
    fetchedBytes = 0,
  ): ResolvedModelFile => ({
    repo,
    revision,
    commit,
    file: request.file,
    path: file.path,
    size: file.size,
    sha256: file.sha256,
    license,
    cardBaseModel,
    source,
    revisionKind: online?.kind,
    locked: request.lock !== undefined,
    fetchedBytes,
  });

  /** The cached snapshot at this commit, verified; undefined when the cache does not have it. */
  const fromCache = async (request: FileRequest, source: ResolvedModelFile["source"]) => {
    const artifact = artifactOf(request.file);
    const snapshot = layout.snapshotPath(commit, request.file);
    const blob = await realpath(snapshot).catch(() => undefined);
    if (blob === undefined) return undefined;
    // Something to verify against: MODEL_SHA256, the lock, what the Hub declared when this commit was verified
    // online, or the blob's own name (the Hub cache names blobs by their sha256). A plain file with none of these is
    // refused.
    const info = await commitInfo();
    const known = info.files[request.file];
    const pins = [request.sha256, request.lock?.locked.sha256, known?.sha256].filter(
      (s): s is string => s !== undefined,
    );
    if (pins.length === 0 && !BLOB_NAME.test(basename(blob))) throw new UnverifiableCacheError(artifact);
    const verified = await verifyCachedFile(
      snapshot,
      { sha256: [...new Set(pins)], ...(known ? { size: known.size } : {}) },
      artifact,
      { markerFor: layout.markerPath, rehash: session.reverify },
    );
    if (request.lock) enforceLock(request.lock, { size: verified.size, sha256: verified.sha256 }, artifact);
    return result(
      request,
      verified,
      source,
      online?.license ?? request.lock?.locked.license ?? info.license,
      online?.cardBaseModel ?? info.cardBaseModel,
    );
  };

  /** The Hub could not be asked (`reason`): the cache stands in, or the reason goes up, saying nothing is cached. */
  const standIn = async (request: FileRequest, reason: HubError) => {
    const cached = await fromCache(request, "cache");
    if (cached === undefined) {
      throw reason instanceof HubUnavailableError
        ? new HubUnavailableError(artifactOf(request.file), reason.reason, true, reason.host)
        : reason;
    }
    if (!reported.has(reason)) session.onFallback?.(reason);
    reported.add(reason);
    return cached;
  };

  const prefetch = async (requests: readonly FileRequest[]) => {
    if (!online) return;
    const wanted: FileRequest[] = [];
    for (const request of requests) {
      if (asked.has(request.file) || wanted.some((w) => w.file === request.file)) continue;
      if (await vouchedFor(request.file)) continue;
      wanted.push(request);
    }
    if (wanted.length === 0) return;
    for (const request of wanted) asked.add(request.file);
    try {
      const found = await lookupFiles(
        online.hub,
        { repo, commit, files: wanted.map((w) => ({ file: w.file, pinnedSha256: w.sha256 })) },
        artifactOf,
      );
      for (const [file, entry] of found) remote.set(file, entry);
    } catch (error) {
      if (!(error instanceof HubError) || !error.cacheMayStandIn) throw error;
      unusable = error;
    }
  };

  const resolve = async (request: FileRequest): Promise<ResolvedModelFile> => {
    const artifact = artifactOf(request.file);
    if (!online) {
      const cached = await fromCache(request, params.source ?? "cache");
      if (cached === undefined) throw new NotCachedError(artifact);
      return cached;
    }
    if (await vouchedFor(request.file)) {
      const cached = await fromCache(request, "cache");
      if (cached) return cached;
    }
    if (!asked.has(request.file)) await prefetch([request]);
    const file = remote.get(request.file);
    if (!file) {
      if (unusable) return standIn(request, unusable);
      throw new EntryNotFoundError(artifact, online.ggufFiles);
    }
    if (request.lock) {
      enforceLock(request.lock, { size: file.expected.size, sha256: file.declaredSha256 }, artifact);
    }
    let cached: Awaited<ReturnType<typeof cacheFile>>;
    try {
      cached = await cacheFile({
        session,
        hub: online.hub,
        layout,
        commit,
        file: request.file,
        remote: file,
        artifact,
      });
    } catch (error) {
      if (error instanceof HubError && error.cacheMayStandIn) return standIn(request, error);
      throw error;
    }
    if (request.lock) enforceLock(request.lock, { sha256: cached.sha256 }, artifact);
    await recordVerifiedFile(layout, commit, request.file, { size: cached.size, sha256: cached.sha256 }).catch(
      (error: unknown) => {
        throw mapCacheWriteError(error, artifact, session.cacheDir, 0);
      },
    );
    recorded = undefined;
    return result(
      request,
      cached,
      cached.fetchedBytes > 0 ? "download" : "cache",
      online.license,
      online.cardBaseModel,
      cached.fetchedBytes,
    );
  };

  return { prefetch, resolve, cached: (request) => fromCache(request, params.source ?? "cache") };
}
