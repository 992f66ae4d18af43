import type { Expected } from "./verify-cached-file.ts";
import type { BlobDigests } from "./verified-marker.ts";

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
