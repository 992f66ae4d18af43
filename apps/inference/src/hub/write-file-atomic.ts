import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Creates `path` so readers see the old entry or the new one, never a torn or missing one: `make` creates a temp
 * entry beside it (a file, a symlink), then it is renamed into place. (The write-file-atomic package adds
 * ownership and fsync options these bookkeeping files do not need, and does not do symlinks.)
 */
export async function replaceAtomically(path: string, make: (temp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await make(temp);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await replaceAtomically(path, (temp) => writeFile(temp, content));
}
