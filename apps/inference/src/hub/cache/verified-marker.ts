import { readFile, stat } from "node:fs/promises";
import { writeFileAtomic } from "../../formats/index.ts";
import type { BlobDigests } from "./hashing.ts";

interface Marker extends BlobDigests {
  size: string;
  mtimeNs: string;
  ino: string;
  verifiedAt: string;
}

/**
 * The verified marker: rehashing a cached model at every start costs ~1 s per GiB from the page cache and ~2.5 s per
 * GiB from disk on this machine (bench/download measures the first), so a restart trusts a blob whose size, mtime (ns) and inode are
 * those recorded right after it was hashed. Any rewrite, truncation or replacement of the file changes one of them
 * and brings a full rehash; MODEL_REVERIFY=1 rehashes regardless.
 */
export async function readVerifiedMarker(markerPath: string, blobPath: string): Promise<BlobDigests | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(markerPath, "utf8"), stat(blobPath, { bigint: true })]);
    const marker = JSON.parse(text) as Partial<Marker>;
    const same =
      marker.size === String(info.size) && marker.mtimeNs === String(info.mtimeNs) && marker.ino === String(info.ino);
    if (!same || typeof marker.sha256 !== "string") return undefined;
    return { sha256: marker.sha256, ...(typeof marker.gitSha1 === "string" ? { gitSha1: marker.gitSha1 } : {}) };
  } catch {
    return undefined;
  }
}

export async function writeVerifiedMarker(markerPath: string, blobPath: string, digests: BlobDigests): Promise<void> {
  const info = await stat(blobPath, { bigint: true });
  const marker: Marker = {
    ...digests,
    size: String(info.size),
    mtimeNs: String(info.mtimeNs),
    ino: String(info.ino),
    verifiedAt: new Date().toISOString(),
  };
  await writeFileAtomic(markerPath, `${JSON.stringify(marker)}\n`);
}
