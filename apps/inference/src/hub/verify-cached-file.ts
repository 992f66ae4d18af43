import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { realpath, rm, stat } from "node:fs/promises";
import { basename } from "node:path";
import { IntegrityError, type ArtifactRef } from "./errors.ts";

export interface Expected {
  /** sha256 the Hub declares (LFS oid) or the user pinned (MODEL_SHA256). */
  sha256?: string[];
  /** git blob sha1 the Hub declares for a small (non-LFS) file. */
  gitOid?: string;
  size?: number;
}

export interface VerifiedFile {
  path: string;
  blobPath: string;
  size: number;
  sha256: string;
}

/**
 * Verifies a snapshot file against what is expected of it and against its own blob name (the cache names LFS blobs
 * by sha256 and small files by git sha1, so a cached file can be checked with no network at all).
 * On any mismatch the blob and the snapshot pointer are deleted before the IntegrityError is thrown.
 */
export async function verifyCachedFile(
  snapshotPath: string,
  expected: Expected,
  artifact: ArtifactRef,
): Promise<VerifiedFile> {
  const blobPath = await realpath(snapshotPath);
  const { size } = await stat(blobPath);
  const name = basename(blobPath);
  const fail = async (what: string): Promise<never> => {
    await rm(blobPath, { force: true });
    await rm(snapshotPath, { force: true });
    throw new IntegrityError(artifact, what);
  };
  if (expected.size !== undefined && size !== expected.size) {
    await fail(`size is ${size} bytes, expected ${expected.size}`);
  }
  const wantedSha256 = [...(expected.sha256 ?? []), ...(/^[0-9a-f]{64}$/.test(name) ? [name] : [])];
  const wantedGit = [...(expected.gitOid ? [expected.gitOid] : []), ...(/^[0-9a-f]{40}$/.test(name) ? [name] : [])];
  const { sha256, gitSha1 } = await hashFile(blobPath, size, wantedGit.length > 0);
  for (const wanted of wantedSha256) {
    if (wanted.toLowerCase() !== sha256) await fail(`sha256 is ${sha256}, expected ${wanted.toLowerCase()}`);
  }
  for (const wanted of wantedGit) {
    if (wanted !== gitSha1) await fail(`git blob sha1 is ${gitSha1}, expected ${wanted}`);
  }
  return { path: snapshotPath, blobPath, size, sha256 };
}

/** sha256 and, for small files, git's blob sha1 (`sha1("blob <size>\0" + content)`), in one read. */
async function hashFile(path: string, size: number, withGitSha1: boolean) {
  const sha256 = createHash("sha256");
  const sha1 = withGitSha1 ? createHash("sha1").update(`blob ${size}\0`) : undefined;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    sha256.update(chunk as Buffer);
    sha1?.update(chunk as Buffer);
  }
  return { sha256: sha256.digest("hex"), gitSha1: sha1?.digest("hex") };
}
