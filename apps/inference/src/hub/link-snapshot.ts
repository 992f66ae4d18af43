import { readlink, symlink } from "node:fs/promises";
import { dirname, relative } from "node:path";
import { replaceAtomically } from "./write-file-atomic.ts";

/**
 * Points `snapshots/<commit>/<file>` at its blob with a relative symlink, as the Python client does, replacing any
 * older pointer atomically, so a reader never finds the pointer missing.
 */
export async function linkSnapshot(snapshotPath: string, blobPath: string): Promise<void> {
  const target = relative(dirname(snapshotPath), blobPath);
  if ((await readlink(snapshotPath).catch(() => undefined)) === target) return;
  await replaceAtomically(snapshotPath, (temp) => symlink(target, temp));
}
