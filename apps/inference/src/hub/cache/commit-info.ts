import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../../formats/index.ts";
import { SHA256_HEX } from "../remote/index.ts";
import type { CacheLayout } from "./layout.ts";

/**
 * What the Hub declared for a commit, kept beside the cache (our `.locks` bookkeeping) for offline starts: its
 * licence, for the licence policy, and each file's size and sha256 once verified online, so that a cached file is
 * always checked against what the Hub said, even when the cache entry is a plain file or a link to a blob whose name
 * says nothing (no lockfile, no MODEL_SHA256).
 */
export interface CommitInfo {
  license: string | undefined;
  /** The model card's `base_model`. */
  cardBaseModel?: string | undefined;
  files: Record<string, { size: number; sha256: string }>;
}

export async function writeCommitInfo(
  layout: CacheLayout,
  commit: string,
  info: Pick<CommitInfo, "license" | "cardBaseModel">,
): Promise<void> {
  const previous = await readCommitInfo(layout, commit);
  await save(layout, commit, { license: info.license, cardBaseModel: info.cardBaseModel, files: previous.files });
}

/** Records a file verified online at this commit. */
export async function recordVerifiedFile(
  layout: CacheLayout,
  commit: string,
  file: string,
  digest: { size: number; sha256: string },
): Promise<void> {
  const info = await readCommitInfo(layout, commit);
  if (info.files[file]?.sha256 === digest.sha256 && info.files[file]?.size === digest.size) return;
  await save(layout, commit, {
    ...info,
    files: { ...info.files, [file]: { size: digest.size, sha256: digest.sha256 } },
  });
}

/** The recorded info, or an empty one when the commit was never resolved online by this service. */
export async function readCommitInfo(layout: CacheLayout, commit: string): Promise<CommitInfo> {
  try {
    const json = JSON.parse(await readFile(layout.commitInfoPath(commit), "utf8")) as {
      license?: unknown;
      cardBaseModel?: unknown;
      files?: unknown;
    };
    const files: CommitInfo["files"] = {};
    if (json.files && typeof json.files === "object") {
      for (const [name, value] of Object.entries(json.files as Record<string, unknown>)) {
        const entry = value as { size?: unknown; sha256?: unknown };
        if (typeof entry.size === "number" && typeof entry.sha256 === "string" && SHA256_HEX.test(entry.sha256)) {
          files[name] = { size: entry.size, sha256: entry.sha256 };
        }
      }
    }
    return {
      license: typeof json.license === "string" ? json.license : undefined,
      cardBaseModel: typeof json.cardBaseModel === "string" ? json.cardBaseModel : undefined,
      files,
    };
  } catch {
    return { license: undefined, files: {} };
  }
}

async function save(layout: CacheLayout, commit: string, info: CommitInfo): Promise<void> {
  const base = info.cardBaseModel ? { cardBaseModel: info.cardBaseModel } : {};
  await writeFileAtomic(
    layout.commitInfoPath(commit),
    `${JSON.stringify({ license: info.license ?? null, ...base, files: info.files })}\n`,
  );
}
