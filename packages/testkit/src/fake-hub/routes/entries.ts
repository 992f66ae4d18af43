import { xetHashOf } from "../hashing.ts";
import { directoriesOf, directoryOid, type StoredCommit, type StoredFile } from "../repo-store.ts";
import type { CommitSummary } from "../types.ts";

export interface ApiCommitInfo {
  id: string;
  title: string;
  date: string;
}

export interface ApiPathEntry {
  type: "file" | "directory";
  oid: string;
  size: number;
  path: string;
  lfs?: { oid: string; size: number; pointerSize: number };
  /** Xet-stored repos: the file's Xet hash, beside `lfs.oid` (which stays the sha256). */
  xetHash?: string;
  lastCommit?: ApiCommitInfo;
  securityFileStatus?: { status: string };
}

export function commitInfo(commit: CommitSummary): ApiCommitInfo {
  return { id: commit.id, title: commit.title, date: commit.date.toISOString() };
}

export function fileEntry(file: StoredFile, expand: boolean, xet = false): ApiPathEntry {
  return {
    type: "file",
    oid: file.oid,
    size: file.size,
    path: file.path,
    ...(file.lfs ? { lfs: { oid: file.lfs.oid, size: file.lfs.size, pointerSize: file.lfs.pointerSize } } : {}),
    ...(file.lfs && xet ? { xetHash: xetHashOf(file.lfs.oid) } : {}),
    ...(expand ? { lastCommit: commitInfo(file.lastCommit), securityFileStatus: { status: "safe" } } : {}),
  };
}

export function directoryEntry(commit: StoredCommit, dir: string, expand: boolean): ApiPathEntry {
  let last: CommitSummary | undefined;
  if (expand) {
    for (const [path, file] of commit.files) {
      if (path.startsWith(`${dir}/`) && (!last || file.lastCommit.date >= last.date)) {
        last = file.lastCommit;
      }
    }
  }
  return {
    type: "directory",
    oid: directoryOid(commit, dir),
    size: 0,
    path: dir,
    ...(last ? { lastCommit: commitInfo(last) } : {}),
  };
}

/** The entry at `path` in a commit (file or directory), if any. */
export function entryAt(commit: StoredCommit, path: string, expand: boolean, xet = false): ApiPathEntry | undefined {
  const file = commit.files.get(path);
  if (file) return fileEntry(file, expand, xet);
  if (directoriesOf(commit).has(path)) return directoryEntry(commit, path, expand);
  return undefined;
}

/** Entries under `dir` ("" for the root): direct children, or every descendant when recursive. */
export function listTree(
  commit: StoredCommit,
  dir: string,
  recursive: boolean,
  expand: boolean,
  xet = false,
): ApiPathEntry[] {
  const prefix = dir === "" ? "" : `${dir}/`;
  const depth = (p: string): number => p.slice(prefix.length).split("/").length;
  const dirs = [...directoriesOf(commit)]
    .filter((d) => d.startsWith(prefix) && d !== dir && (recursive || depth(d) === 1))
    .sort();
  const files = [...commit.files.values()]
    .filter((f) => f.path.startsWith(prefix) && (recursive || depth(f.path) === 1))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return [...dirs.map((d) => directoryEntry(commit, d, expand)), ...files.map((f) => fileEntry(f, expand, xet))];
}
