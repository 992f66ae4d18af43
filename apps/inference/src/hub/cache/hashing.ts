import { createHash } from "node:crypto";

/** Digests of a blob that was read in full and matched, with the file identity they belong to. */
export interface BlobDigests {
  sha256: string;
  /** git blob sha1, recorded when it was computed (small, non-LFS files are named by it). */
  gitSha1?: string | undefined;
}

/** What a blob must match. */
export interface Expected {
  /** sha256 the Hub declares (LFS oid) or the user pinned (MODEL_SHA256). */
  sha256?: string[];
  /** git blob sha1 the Hub declares for a small (non-LFS) file. */
  gitOid?: string;
  size?: number;
}

export interface BlobHasher {
  update(chunk: Uint8Array): void;
  digest(): BlobDigests;
}

/** sha256 and, for small files, git's blob sha1 (`sha1("blob <size>\0" + content)`), fed chunk by chunk. */
export function createBlobHasher(size: number, withGitSha1: boolean): BlobHasher {
  const sha256 = createHash("sha256");
  const sha1 = withGitSha1 ? createHash("sha1").update(`blob ${size}\0`) : undefined;
  return {
    update(chunk) {
      sha256.update(chunk);
      sha1?.update(chunk);
    },
    digest: () => ({ sha256: sha256.digest("hex"), gitSha1: sha1?.digest("hex") }),
  };
}

/** What differs between a blob's digests and what is expected of it, as a phrase for IntegrityError, or undefined. */
export function findMismatch(digests: BlobDigests, expected: Expected): string | undefined {
  for (const wanted of expected.sha256 ?? []) {
    if (wanted.toLowerCase() !== digests.sha256) return `sha256 is ${digests.sha256}, expected ${wanted.toLowerCase()}`;
  }
  if (expected.gitOid !== undefined && expected.gitOid !== digests.gitSha1) {
    return `git blob sha1 is ${digests.gitSha1 ?? "unknown"}, expected ${expected.gitOid}`;
  }
  return undefined;
}
