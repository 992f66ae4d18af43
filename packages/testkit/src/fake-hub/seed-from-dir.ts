import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FakeHub, GatedMode } from "./types.ts";

export interface SeedFromDirOptions {
  /** `org/name` */
  id: string;
  /** Every file under it (recursively, `.git` excepted) becomes a repo file. */
  dir: string;
  private?: boolean;
  gated?: GatedMode;
  license?: string;
  tags?: string[];
}

/** Reads a directory into a `path -> content` record (posix paths, sorted). */
export async function readDirFiles(dir: string): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {};
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(join(dir, relative), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name === ".git") continue;
      const rel = relative === "" ? entry.name : `${relative}/${entry.name}`;
      const info = await stat(join(dir, rel));
      if (info.isDirectory()) {
        await walk(rel);
      } else if (info.isFile()) {
        files[rel] = await readFile(join(dir, rel));
      }
    }
  };
  await walk("");
  return files;
}

/** Creates a repo on the fake hub from a directory; returns the commit sha. */
export async function seedRepoFromDir(hub: FakeHub, options: SeedFromDirOptions): Promise<string> {
  const files = await readDirFiles(options.dir);
  if (Object.keys(files).length === 0) {
    throw new Error(`fake hub: ${options.dir} has no files to seed ${options.id} with`);
  }
  return hub.addRepo({
    id: options.id,
    files,
    ...(options.private !== undefined ? { private: options.private } : {}),
    ...(options.gated !== undefined ? { gated: options.gated } : {}),
    ...(options.license !== undefined ? { license: options.license } : {}),
    ...(options.tags !== undefined ? { tags: options.tags } : {}),
  });
}
