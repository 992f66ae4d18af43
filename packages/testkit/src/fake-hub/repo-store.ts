import { gitBlobSha1, lfsPointer, objectId, sha1Hex, sha256Hex } from "./hashing.ts";
import type { CommitOptions, CommitSummary, FakeRepoInfo, FileContent, GatedMode, RepoSpec } from "./types.ts";

export interface StoredLfs {
  /** sha256 of the content */
  oid: string;
  size: number;
  pointerSize: number;
  pointer: Buffer;
}

export interface StoredFile {
  path: string;
  content: Buffer;
  size: number;
  /** Git blob sha1 of what git stores: the content, or the LFS pointer for LFS files. */
  oid: string;
  lfs?: StoredLfs;
  /** The last commit that changed this file. */
  lastCommit: CommitSummary;
}

export interface StoredCommit extends CommitSummary {
  parent?: string;
  files: ReadonlyMap<string, StoredFile>;
}

const COMMIT_SHA = /^[0-9a-f]{40}$/;
const SHORT_SHA = /^[0-9a-f]{7,39}$/;

export function defaultIsLfs(path: string, size: number): boolean {
  return size > 1024 || /\.(gguf|safetensors)$/i.test(path);
}

export function toBuffer(content: FileContent): Buffer {
  if (typeof content === "string") {
    return Buffer.from(content, "utf8");
  }
  return Buffer.isBuffer(content) ? content : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

export function validateRepoId(id: string): void {
  if (!/^[\w.-]+\/[\w.-]+$/.test(id)) {
    throw new TypeError(`fake hub: repo id must look like "org/name", got ${JSON.stringify(id)}`);
  }
}

function validateFilePath(path: string): void {
  const segments = path.split("/");
  if (path === "" || segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new TypeError(`fake hub: invalid file path ${JSON.stringify(path)}`);
  }
}

/** One model repo: its commits, branches and tags. */
export class FakeRepo implements FakeRepoInfo {
  private currentId: string;
  readonly objectId: string;
  readonly createdAt: Date;
  private: boolean;
  gated: GatedMode;
  /** Stored with Xet: LFS files resolve to the bridge, entries carry `xetHash`. */
  xet: boolean;
  /** Disabled by the Hub: every request gets a 403 "Access to this resource is disabled.". */
  disabled = false;
  readonly license: string | undefined;
  readonly baseModel: string | undefined;
  readonly modelTags: readonly string[];
  readonly pipelineTag: string | undefined;
  readonly commits = new Map<string, StoredCommit>();
  readonly branches = new Map<string, string>();
  readonly tags = new Map<string, string>();
  private readonly isLfs: (path: string, size: number) => boolean;

  constructor(spec: RepoSpec) {
    validateRepoId(spec.id);
    this.currentId = spec.id;
    this.xet = spec.xet ?? false;
    this.objectId = objectId(spec.id);
    this.createdAt = new Date();
    this.private = spec.private ?? false;
    this.gated = spec.gated ?? false;
    this.license = spec.license;
    this.baseModel = spec.baseModel;
    this.modelTags = [...(spec.tags ?? []), ...(spec.license ? [`license:${spec.license}`] : [])];
    this.pipelineTag = spec.pipelineTag;
    const lfs = spec.lfs;
    this.isLfs = lfs ? (path) => lfs(path) : defaultIsLfs;
    const first = this.createCommit(undefined, spec.files, { message: spec.message ?? "initial commit" });
    this.branches.set("main", first.id);
  }

  get id(): string {
    return this.currentId;
  }

  /** Gives the repo a new id (see FakeHub.renameRepo); its commits keep their shas. */
  rename(to: string): void {
    validateRepoId(to);
    this.currentId = to;
  }

  get mainSha(): string {
    const sha = this.branches.get("main");
    if (!sha) {
      throw new Error(`fake hub: repo ${this.id} has no main branch`);
    }
    return sha;
  }

  listFiles(revision = "main"): string[] {
    const commit = this.resolveRevision(revision);
    if (!commit) {
      throw new Error(`fake hub: revision ${revision} does not exist in ${this.id}`);
    }
    return [...commit.files.keys()].sort();
  }

  /** Commits onto a branch head and moves the branch. */
  commit(files: Record<string, FileContent>, options: CommitOptions = {}): StoredCommit {
    const branch = options.branch ?? "main";
    const head = this.branches.get(branch);
    if (!head) {
      throw new Error(`fake hub: branch ${branch} does not exist in ${this.id}`);
    }
    const commit = this.createCommit(head, files, options);
    this.branches.set(branch, commit.id);
    return commit;
  }

  setBranch(name: string, commitSha: string): void {
    this.requireCommit(commitSha);
    this.branches.set(name, commitSha);
  }

  setTag(name: string, commitSha: string): void {
    this.requireCommit(commitSha);
    this.tags.set(name, commitSha);
  }

  /**
   * Resolves a revision: `HEAD`, `refs/heads/x`, `refs/tags/x`, a branch (including `refs/pr/N`),
   * a tag, a full commit sha, or an unambiguous commit prefix of at least 7 hex digits.
   */
  resolveRevision(revision: string): StoredCommit | undefined {
    const sha = this.resolveRevisionSha(revision);
    return sha ? this.commits.get(sha) : undefined;
  }

  private resolveRevisionSha(revision: string): string | undefined {
    if (revision === "HEAD") {
      return this.branches.get("main");
    }
    if (revision.startsWith("refs/heads/")) {
      return this.branches.get(revision.slice("refs/heads/".length));
    }
    if (revision.startsWith("refs/tags/")) {
      return this.tags.get(revision.slice("refs/tags/".length));
    }
    const ref = this.branches.get(revision) ?? this.tags.get(revision);
    if (ref) {
      return ref;
    }
    if (COMMIT_SHA.test(revision)) {
      return this.commits.has(revision) ? revision : undefined;
    }
    if (SHORT_SHA.test(revision)) {
      const matches = [...this.commits.keys()].filter((sha) => sha.startsWith(revision));
      return matches.length === 1 ? matches[0] : undefined;
    }
    return undefined;
  }

  private requireCommit(sha: string): void {
    if (!this.commits.has(sha)) {
      throw new Error(`fake hub: commit ${sha} does not exist in ${this.id}`);
    }
  }

  private createCommit(
    parentSha: string | undefined,
    files: Record<string, FileContent>,
    options: CommitOptions,
  ): StoredCommit {
    const parent = parentSha ? this.commits.get(parentSha) : undefined;
    const title = options.message ?? "update files";
    const date = new Date();
    const entries = new Map<string, { content: Buffer; oid: string; lfs?: StoredLfs }>();
    for (const [path, file] of parent?.files ?? []) {
      entries.set(path, file);
    }
    for (const path of options.deletions ?? []) {
      if (!entries.delete(path)) {
        throw new Error(`fake hub: cannot delete ${path}: not in ${this.id}`);
      }
    }
    const changed = new Set<string>();
    for (const [path, value] of Object.entries(files)) {
      validateFilePath(path);
      const content = toBuffer(value);
      let lfs: StoredLfs | undefined;
      let oid: string;
      if (this.isLfs(path, content.byteLength)) {
        const sha256 = sha256Hex(content);
        const pointer = lfsPointer(sha256, content.byteLength);
        lfs = { oid: sha256, size: content.byteLength, pointerSize: pointer.byteLength, pointer };
        oid = gitBlobSha1(pointer);
      } else {
        oid = gitBlobSha1(content);
      }
      const previous = parent?.files.get(path);
      if (previous && previous.oid === oid && entries.has(path)) {
        continue;
      }
      entries.set(path, { content, oid, lfs });
      changed.add(path);
    }
    const sortedPaths = [...entries.keys()].sort();
    const id = sha1Hex(
      `commit ${this.commits.size}\nrepo ${this.id}\nparent ${parentSha ?? ""}\nmessage ${title}\n`,
      ...sortedPaths.map((p) => `${p} ${entries.get(p)?.oid}\n`),
    );
    const summary: CommitSummary = { id, title, date };
    const tree = new Map<string, StoredFile>();
    for (const path of sortedPaths) {
      const entry = entries.get(path);
      if (!entry) continue;
      const previous = parent?.files.get(path);
      if (previous && !changed.has(path)) {
        tree.set(path, previous);
      } else {
        tree.set(path, {
          path,
          content: entry.content,
          size: entry.content.byteLength,
          oid: entry.oid,
          ...(entry.lfs ? { lfs: entry.lfs } : {}),
          lastCommit: summary,
        });
      }
    }
    const commit: StoredCommit = { ...summary, ...(parentSha ? { parent: parentSha } : {}), files: tree };
    this.commits.set(id, commit);
    return commit;
  }
}

/** Directory entries derived from a commit's file list. */
export function directoriesOf(commit: StoredCommit): Set<string> {
  const dirs = new Set<string>();
  for (const path of commit.files.keys()) {
    const segments = path.split("/");
    for (let i = 1; i < segments.length; i++) {
      dirs.add(segments.slice(0, i).join("/"));
    }
  }
  return dirs;
}

/** A stable pseudo tree id for a directory at a commit. */
export function directoryOid(commit: StoredCommit, dir: string): string {
  const prefix = `${dir}/`;
  const parts: string[] = [];
  for (const [path, file] of commit.files) {
    if (path.startsWith(prefix)) {
      parts.push(`${path} ${file.oid}\n`);
    }
  }
  return sha1Hex("tree\n", ...parts);
}
