import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import {
  cacheLayout,
  mapCacheWriteError,
  readCommitInfo,
  readRef,
  writeCommitInfo,
  writeRef,
  type CacheLayout,
} from "./cache/index.ts";
import type { ArtifactRef } from "./errors.ts";
import { checkRevisionPolicy, enforceLock, type LockCheck } from "./policy/index.ts";
import type { HubConnection, RemoteRevision } from "./remote/index.ts";
import { resolveOrUseCache } from "./resolve-or-use-cache.ts";
import type { HubSession } from "./session.ts";

export interface ListRepoFilesParams {
  session: HubSession;
  repo: string;
  /** Branch, tag or commit, as the user wrote it. */
  revision: string;
  /** The variable naming the revision, for messages (e.g. BASE_MODEL_VERSION). */
  revisionVariable?: string;
  /** The lockfile's entries for this repo's files (they share one commit), when a lockfile is in force. */
  lock?: { lockfile: string; files: LockCheck["locked"][] } | undefined;
}

export interface RepoListing {
  repo: string;
  revision: string;
  commit: string;
  /** Every file of the repo at the commit (from the cache: the files fetched before, or the locked ones). */
  files: string[];
  license: string | undefined;
  cardBaseModel: string | undefined;
  /** "hub": listed on the Hub; otherwise read from the cache (offline, or the Hub unusable). */
  source: "hub" | "cache" | "offline-cache";
}

/** A listing, and when it came from the Hub, the connection and what the Hub said of the revision. */
export interface ListedRepo {
  listing: RepoListing;
  online: { hub: HubConnection; remote: RemoteRevision } | undefined;
}

/**
 * A repo's files at a pinned commit, before anything is downloaded: the revision resolved to its commit (held to the
 * lockfile and to the branch policy, `refs/<revision>` written as for a single file). Offline, or when the Hub
 * cannot be reached, the locked commit (else `refs/<revision>`) and the files the cache holds for it.
 */
export async function listRepoFiles(params: ListRepoFilesParams): Promise<ListedRepo> {
  const { session } = params;
  const layout = cacheLayout(session.cacheDir, params.repo);
  const artifact: ArtifactRef = { repo: params.repo, revision: params.revision };
  const lockCheck = params.lock?.files[0]
    ? { lockfile: params.lock.lockfile, locked: params.lock.files[0] }
    : undefined;
  const fromCache = (source: "cache" | "offline-cache") => listFromCache(layout, params, source);
  const resolved = await resolveOrUseCache({
    session,
    repo: params.repo,
    revision: params.revision,
    artifact,
    fromCache,
  });
  if (resolved.cached) return { listing: resolved.cached, online: undefined };
  const { hub, remote } = resolved;
  if (lockCheck) enforceLock(lockCheck, { commit: remote.commit }, artifact);
  checkRevisionPolicy(
    remote.kind,
    remote.commit,
    { session, locked: lockCheck !== undefined, variable: params.revisionVariable },
    artifact,
  );
  await Promise.all([
    writeRef(layout, params.revision, remote.commit),
    writeCommitInfo(layout, remote.commit, remote),
  ]).catch((error: unknown) => {
    throw mapCacheWriteError(error, artifact, session.cacheDir, 0);
  });
  return {
    listing: {
      repo: params.repo,
      revision: params.revision,
      commit: remote.commit,
      files: remote.files,
      license: remote.license,
      cardBaseModel: remote.cardBaseModel,
      source: "hub",
    },
    online: { hub, remote },
  };
}

async function listFromCache(
  layout: CacheLayout,
  params: ListRepoFilesParams,
  source: "cache" | "offline-cache",
): Promise<RepoListing | undefined> {
  const locked = params.lock?.files ?? [];
  const commit = locked[0]?.commit ?? (await readRef(layout, params.revision));
  if (!commit) return undefined;
  const files = locked.length > 0 ? locked.map((entry) => entry.file) : await snapshotFiles(layout, commit);
  if (files.length === 0) return undefined;
  const info = await readCommitInfo(layout, commit);
  return {
    repo: params.repo,
    revision: params.revision,
    commit,
    files,
    license: locked[0]?.license ?? info.license,
    cardBaseModel: info.cardBaseModel,
    source,
  };
}

/** The files under `snapshots/<commit>/` (what an earlier start fetched), as repo paths. */
async function snapshotFiles(layout: CacheLayout, commit: string): Promise<string[]> {
  const root = join(layout.repoDir, "snapshots", commit);
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) =>
      relative(root, join(entry.parentPath ?? entry.path, entry.name))
        .split("\\")
        .join("/"),
    )
    .sort();
}
