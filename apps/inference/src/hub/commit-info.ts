import { readFile } from "node:fs/promises";
import type { CacheLayout } from "./cache-layout.ts";
import { writeFileAtomic } from "./write-file-atomic.ts";

/** What the Hub declared for a commit, kept beside the cache so an offline start can apply the licence policy. */
export interface CommitInfo {
  license: string | undefined;
}

export async function writeCommitInfo(layout: CacheLayout, commit: string, info: CommitInfo): Promise<void> {
  await writeFileAtomic(layout.commitInfoPath(commit), `${JSON.stringify({ license: info.license ?? null })}\n`);
}

/** The recorded info, or an empty one when the commit was never resolved online by this service. */
export async function readCommitInfo(layout: CacheLayout, commit: string): Promise<CommitInfo> {
  try {
    const json = JSON.parse(await readFile(layout.commitInfoPath(commit), "utf8")) as { license?: unknown };
    return { license: typeof json.license === "string" ? json.license : undefined };
  } catch {
    return { license: undefined };
  }
}
