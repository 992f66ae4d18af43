import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./write-file-atomic.ts";

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
  const repoDir = join(cacheDir, folder);
  const bookkeeping = join(cacheDir, ".locks", folder);
  return {
    cacheDir,
    repoDir,
    refPath: (revision) => join(repoDir, "refs", revision),
    snapshotPath: (commit, file) => join(repoDir, "snapshots", commit, file),
    blobPath: (etag) => join(repoDir, "blobs", etag),
    lockPath: (etag) => join(bookkeeping, `${etag}.slm-download.lock`),
    markerPath: (etag) => join(bookkeeping, `${etag}.slm-verified.json`),
    commitInfoPath: (commit) => join(bookkeeping, `${commit}.slm-commit.json`),
  };
}

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

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
