import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * The Hub cache layout shared with the Python client:
 * `<cache>/models--<org>--<name>/{blobs/<etag>, refs/<revision>, snapshots/<commit>/<path> -> ../../blobs/<etag>}`.
 */
export interface CacheLayout {
  repoDir: string;
  refPath(revision: string): string;
  snapshotPath(commit: string, file: string): string;
  blobPath(etag: string): string;
}

export function cacheLayout(cacheDir: string, repo: string): CacheLayout {
  const repoDir = join(cacheDir, `models--${repo.split("/").join("--")}`);
  return {
    repoDir,
    refPath: (revision) => join(repoDir, "refs", revision),
    snapshotPath: (commit, file) => join(repoDir, "snapshots", commit, file),
    blobPath: (etag) => join(repoDir, "blobs", etag),
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
  const path = layout.refPath(revision);
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, commit);
  await rename(temp, path);
}
