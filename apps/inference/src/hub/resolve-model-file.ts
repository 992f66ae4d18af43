import { cacheLayout, mapCacheWriteError, readRef, writeCommitInfo, writeRef } from "./cache/index.ts";
import { commitFiles, type FileRequest, type ResolvedModelFile } from "./commit-files.ts";
import type { ArtifactRef } from "./errors.ts";
import { checkRevisionPolicy, enforceLock, type LockCheck } from "./policy/index.ts";
import { resolveOrUseCache } from "./resolve-or-use-cache.ts";
import type { HubSession } from "./session.ts";

export type { FileRequest, ResolvedModelFile } from "./commit-files.ts";

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

export interface ResolveRepoFilesParams {
  session: HubSession;
  repo: string;
  /** Branch, tag or commit, as the user wrote it. */
  revision: string;
  /** At least one; all of the same repo at the same revision (e.g. a PEFT adapter's config and weights). */
  files: readonly FileRequest[];
}

/** One file: resolveRepoFiles with one request. */
export async function resolveModelFile(params: ResolveModelFileParams): Promise<ResolvedModelFile> {
  const [file] = await resolveRepoFiles({
    session: params.session,
    repo: params.repo,
    revision: params.revision,
    files: [{ file: params.file, sha256: params.sha256, lock: params.lock }],
  });
  return file!;
}

/**
 * The supply chain for the files of one repo at one revision: resolve the revision to a commit (and tell tag from
 * branch), hold it to the lockfile and the floating-revision policy, write refs/<revision>, look up the files' sizes
 * and checksums (one `paths-info` request for all of them, skipped for files already verified at this commit), then
 * make the Python-compatible cache hold a verified copy of each (downloaded under a cross-process lock, resumed,
 * hashed on the fly; or reused, trusting its verified marker). With HF_HUB_OFFLINE, or when the Hub cannot be
 * reached or keeps answering 429/5xx (for the revision, the lookup or the download), the cached commit is used and
 * each file verified against what is known of it (see commit-files.ts).
 */
export async function resolveRepoFiles(params: ResolveRepoFilesParams): Promise<ResolvedModelFile[]> {
  const { session, repo, revision, files } = params;
  if (files.length === 0) return [];
  const layout = cacheLayout(session.cacheDir, repo);
  const artifactOf = (file: string): ArtifactRef => ({ repo, revision, file });
  const first = artifactOf(files[0]!.file);
  const fromCache = async (source: "cache" | "offline-cache") => {
    // The commit the lockfile pins, else refs/<revision>; each file verified (see commit-files.ts).
    const commit = files[0]!.lock?.locked.commit ?? (await readRef(layout, revision));
    if (!commit) return undefined;
    const cache = commitFiles({ session, layout, repo, revision, commit, online: undefined, source });
    const found: ResolvedModelFile[] = [];
    for (const request of files) {
      const file = await cache.cached(request);
      if (file === undefined) return undefined;
      found.push(file);
    }
    return found;
  };
  const resolved = await resolveOrUseCache({ session, repo, revision, artifact: first, fromCache });
  if (resolved.cached) return resolved.cached;
  const { hub, remote } = resolved;
  const { commit } = remote;
  for (const request of files) if (request.lock) enforceLock(request.lock, { commit }, artifactOf(request.file));
  checkRevisionPolicy(
    remote.kind,
    commit,
    { session, locked: files.every((request) => request.lock !== undefined) },
    first,
  );
  await Promise.all([writeRef(layout, revision, commit), writeCommitInfo(layout, commit, remote)]).catch(
    (error: unknown) => {
      throw mapCacheWriteError(error, first, session.cacheDir, 0);
    },
  );
  const atCommit = commitFiles({
    session,
    layout,
    repo,
    revision,
    commit,
    online: {
      hub,
      kind: remote.kind,
      license: remote.license,
      cardBaseModel: remote.cardBaseModel,
      ggufFiles: remote.ggufFiles,
    },
  });
  await atCommit.prefetch(files);
  const out: ResolvedModelFile[] = [];
  for (const request of files) out.push(await atCommit.resolve(request));
  return out;
}
