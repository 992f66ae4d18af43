import { readFile, readlink, symlink } from "node:fs/promises";
import { dirname, join, relative, isAbsolute } from "node:path";
import { replaceAtomically, writeFileAtomic } from "../../formats/index.ts";
import { CacheNotWritableError, CachePathError, DiskFullError, HubError, type ArtifactRef } from "../errors.ts";
import { BLOB_NAME, COMMIT_HASH } from "../remote/index.ts";

/**
 * The Hub cache layout shared with the Python client:
 * `<cache>/models--<org>--<name>/{blobs/<etag>, refs/<revision>, snapshots/<commit>/<path> -> ../../blobs/<etag>}`.
 * Our own bookkeeping (cross-process download locks, verified markers) lives under `<cache>/.locks/models--<org>--<name>/`,
 * the folder the Python client keeps its own lock files in and that its cache scanner skips, so the Python view of
 * the cache is unchanged.
 */
export interface CacheLayout {
  cacheDir: string;
  repoDir: string;
  refPath(revision: string): string;
  snapshotPath(commit: string, file: string): string;
  blobPath(etag: string): string;
  /** Held while one process downloads the blob (a proper-lockfile lock directory). */
  lockPath(etag: string): string;
  /** Records that the blob was hashed and matched, with its size, mtime and inode at that moment. */
  markerPath(etag: string): string;
  /** What the Hub said about a commit that the cache alone cannot tell (its licence), for offline starts. */
  commitInfoPath(commit: string): string;
}

export function cacheLayout(cacheDir: string, repo: string): CacheLayout {
  const folder = `models--${repo.split("/").join("--")}`;
  const repoDir = inside(cacheDir, join(cacheDir, folder));
  const bookkeeping = join(cacheDir, ".locks", folder);
  const blob = (etag: string) => {
    if (!BLOB_NAME.test(etag)) throw new CachePathError(`not a blob name: a 64-hex sha256 or a 40-hex git oid`);
    return etag;
  };
  const commitId = (commit: string) => {
    if (!COMMIT_HASH.test(commit)) throw new CachePathError("not a commit: 40 hex characters");
    return commit;
  };
  return {
    cacheDir,
    repoDir,
    refPath: (revision) => inside(join(repoDir, "refs"), join(repoDir, "refs", revision)),
    snapshotPath: (commit, file) =>
      inside(join(repoDir, "snapshots", commitId(commit)), join(repoDir, "snapshots", commit, file)),
    blobPath: (etag) => join(repoDir, "blobs", blob(etag)),
    lockPath: (etag) => join(bookkeeping, `${blob(etag)}.slm-download.lock`),
    markerPath: (etag) => join(bookkeeping, `${blob(etag)}.slm-verified.json`),
    commitInfoPath: (commit) => join(bookkeeping, `${commitId(commit)}.slm-commit.json`),
  };
}

/** `path`, once checked to lie strictly inside `base` (a name with `..` or an absolute part never gets out). */
function inside(base: string, path: string): string {
  const rel = relative(base, path);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel))
    throw new CachePathError("a path that leaves the cache folder");
  return path;
}

/** The commit a cached revision points at, or undefined. */
export async function readRef(layout: CacheLayout, revision: string): Promise<string | undefined> {
  if (COMMIT_HASH.test(revision)) return revision;
  try {
    const commit = (await readFile(layout.refPath(revision), "utf8")).trim();
    return COMMIT_HASH.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `refs/<revision>` atomically (temp file + rename), as the Python client expects it: the bare commit. */
export async function writeRef(layout: CacheLayout, revision: string, commit: string): Promise<void> {
  if (COMMIT_HASH.test(revision)) return;
  await writeFileAtomic(layout.refPath(revision), commit);
}

/**
 * Points `snapshots/<commit>/<file>` at its blob with a relative symlink, as the Python client does, replacing any
 * older pointer atomically, so a reader never finds the pointer missing.
 */
export async function linkSnapshot(snapshotPath: string, blobPath: string): Promise<void> {
  const target = relative(dirname(snapshotPath), blobPath);
  if ((await readlink(snapshotPath).catch(() => undefined)) === target) return;
  await replaceAtomically(snapshotPath, (temp) => symlink(target, temp));
}

/** Maps a file-system failure while filling the cache to its typed error (ENOSPC / EDQUOT: disk full). */
export function mapCacheWriteError(
  error: unknown,
  artifact: ArtifactRef,
  cacheDir: string,
  neededBytes: number,
): HubError {
  if (error instanceof HubError) return error;
  const code = (error as { code?: unknown })?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return new DiskFullError(artifact, neededBytes, cacheDir);
  return new CacheNotWritableError(artifact, cacheDir, typeof code === "string" ? code : "unexpected error");
}
