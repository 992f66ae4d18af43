import { createHash } from "node:crypto";
import type { BlobDigests } from "./verified-marker.ts";

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
