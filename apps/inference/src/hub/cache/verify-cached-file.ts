import { createReadStream } from "node:fs";
import { realpath, rm, stat } from "node:fs/promises";
import { basename } from "node:path";
import { IntegrityError, type ArtifactRef } from "../errors.ts";
import { BLOB_NAME, GIT_OID_HEX, SHA256_HEX } from "../remote/index.ts";
import { createBlobHasher, findMismatch, type BlobDigests, type Expected } from "./hashing.ts";
import { readVerifiedMarker, writeVerifiedMarker } from "./verified-marker.ts";

export interface VerifiedFile {
  path: string;
  blobPath: string;
  size: number;
  sha256: string;
  /** True when the verified marker vouched for the blob and it was not read again. */
  trustedMarker: boolean;
}

export interface VerifyOptions {
  /** Where a blob's verified marker lives (see verified-marker.ts); without it the blob is always hashed. */
  markerFor?: (blobName: string) => string;
  /** Hash even when the marker matches (MODEL_REVERIFY). */
  rehash?: boolean;
}

/**
 * Verifies a snapshot file against what is expected of it and against its own blob name (the cache names LFS blobs
 * by sha256 and small files by git sha1, so a cached file can be checked with no network at all).
 * A blob whose verified marker still matches its size, mtime and inode is not read again.
 * On any mismatch the blob, its marker and the snapshot pointer are deleted before the IntegrityError is thrown.
 */
export async function verifyCachedFile(
  snapshotPath: string,
  expected: Expected,
  artifact: ArtifactRef,
  options: VerifyOptions = {},
): Promise<VerifiedFile> {
  const blobPath = await realpath(snapshotPath);
  const { size } = await stat(blobPath);
  const name = basename(blobPath);
  // Markers are kept per blob: a snapshot that is a plain file (not a link to a named blob) is rehashed each time.
  const markerPath = BLOB_NAME.test(name) ? options.markerFor?.(name) : undefined;
  const fail = async (what: string): Promise<never> => {
    await rm(blobPath, { force: true });
    await rm(snapshotPath, { force: true });
    if (markerPath) await rm(markerPath, { force: true });
    throw new IntegrityError(artifact, what);
  };
  if (expected.size !== undefined && size !== expected.size) {
    await fail(`size is ${size} bytes, expected ${expected.size}`);
  }
  // The blob's own name is an expectation too: sha256 for LFS files, git sha1 for small ones.
  const byName: Expected = SHA256_HEX.test(name) ? { sha256: [name] } : GIT_OID_HEX.test(name) ? { gitOid: name } : {};
  const needsGitSha1 = expected.gitOid !== undefined || byName.gitOid !== undefined;

  const marked = markerPath && !options.rehash ? await readVerifiedMarker(markerPath, blobPath) : undefined;
  const trustedMarker = marked !== undefined && (!needsGitSha1 || marked.gitSha1 !== undefined);
  const digests: BlobDigests = trustedMarker && marked ? marked : await hashFile(blobPath, size, needsGitSha1);
  const mismatch = findMismatch(digests, expected) ?? findMismatch(digests, byName);
  if (mismatch) await fail(mismatch);
  if (markerPath && !trustedMarker) await writeVerifiedMarker(markerPath, blobPath, digests).catch(skipOnReadOnlyCache);
  return { path: snapshotPath, blobPath, size, sha256: digests.sha256, trustedMarker };
}

/**
 * The marker only spares the next start a rehash: a cache that cannot be written (a model baked into a container
 * image on a read-only root filesystem) is served all the same, hashed at each start.
 */
function skipOnReadOnlyCache(error: unknown): void {
  const code = (error as { code?: unknown })?.code;
  if (code !== "EROFS" && code !== "EACCES" && code !== "EPERM") throw error;
}

/** Reads the blob once, feeding both digests. */
async function hashFile(path: string, size: number, withGitSha1: boolean): Promise<BlobDigests> {
  const hasher = createBlobHasher(size, withGitSha1);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hasher.update(chunk as Buffer);
  return hasher.digest();
}
