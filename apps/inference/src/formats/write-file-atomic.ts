import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface AtomicWriteOptions {
  /** fsync the temporary file before it is renamed into place (large artifacts: a crash leaves the old file or the whole new one). */
  flush?: boolean;
}

/**
 * Creates `path` so readers see the old entry or the new one, never a torn or missing one: `make` creates a temp
 * entry beside it (a file, a symlink), then it is renamed into place; on failure the temp entry is removed.
 * (The write-file-atomic package adds ownership options we do not need and does not do symlinks.)
 */
export async function replaceAtomically(path: string, make: (temp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}-${randomBytes(6).toString("hex")}.tmp`;
  try {
    await make(temp);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Writes `content` to `path` under a temporary name beside it, then renames: readers never see a partial file. */
export async function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await replaceAtomically(path, (temp) => writeFile(temp, content, { flush: options.flush ?? false }));
}
