/**
 * Public types of the fake Hugging Face Hub.
 *
 * The wire protocol it imitates is described in docs/hub-protocol.md.
 */

export type GatedMode = false | "auto" | "manual";

/** File contents as given by a test: strings are encoded as UTF-8. */
export type FileContent = Uint8Array | string;

export interface RepoSpec {
  /** `org/name` */
  id: string;
  /** @default false */
  private?: boolean;
  /** @default false */
  gated?: GatedMode;
  /** Goes into `cardData.license` and a `license:<x>` tag. */
  license?: string;
  /** Goes into `cardData.base_model` (what an adapter or fine-tune's model card names as its base). */
  baseModel?: string;
  tags?: string[];
  /** Optional `pipeline_tag` of the model info. */
  pipelineTag?: string;
  files: Record<string, FileContent>;
  /**
   * Which paths are stored with Git LFS (served through the CDN origin).
   * @default files larger than 1 KiB, and every `*.gguf` / `*.safetensors`
   */
  lfs?: (path: string) => boolean;
  /** Message of the initial commit. @default "initial commit" */
  message?: string;
}

export interface CommitOptions {
  /** @default "update files" */
  message?: string;
  /** Branch to commit onto (must exist). @default "main" */
  branch?: string;
  /** Paths to delete in this commit. */
  deletions?: string[];
}

export interface TokenOptions {
  /** @default "fake-user" */
  user?: string;
  /** Private repos this token may read. @default [] */
  canRead?: string[] | "all";
  /** Gated repos whose access request was approved for this token's user. @default [] */
  gatedApproved?: string[] | "all";
}

export interface CommitSummary {
  id: string;
  title: string;
  date: Date;
}

export interface RequestLogEntry {
  origin: "hub" | "cdn";
  method: string;
  /** Raw pathname as received (still percent-encoded), without the query string. */
  path: string;
  /** Raw query string including the leading `?`, or "" */
  query: string;
  /** Request headers, names lower-cased. */
  headers: Record<string, string>;
  /** Status code of the reply, once sent (undefined if the connection was reset first). */
  status?: number;
}

/**
 * Where a fault may fire:
 * - `api`: JSON routes of the Hub origin (`/api/...`)
 * - `resolve`: `/{repo}/resolve|raw/{rev}/{path}` on the Hub origin (small files are served here, LFS files redirect)
 * - `cdn`: the CDN origin that serves LFS files
 */
export type FaultWhere = "api" | "resolve" | "cdn";

export interface FaultCommon {
  /** How many matching requests the fault affects. @default 1 (`Infinity` = until cleared) */
  times?: number;
  /** Only requests for this file path (exact repo path, e.g. `"model.gguf"` or `"sub/dir/x.bin"`). Never matches `api`. */
  path?: string;
  /** Only requests for this repo id. */
  repo?: string;
  /** Restrict where the fault may fire (defaults depend on the kind, see {@link FaultSpec}). */
  where?: FaultWhere | FaultWhere[];
}

export interface BodyFaultCommon extends FaultCommon {
  /**
   * Body faults skip `Range: bytes=0-0` probes (the client never reads their body) unless this is true.
   * @default false
   */
  includeProbes?: boolean;
}

/**
 * A fault to inject.
 *
 * | kind | default `where` | effect |
 * |---|---|---|
 * | `truncateBody` | resolve, cdn | full `Content-Length`, then only `sendBytes` body bytes (default half) and a clean close (FIN) |
 * | `corruptBody` | resolve, cdn | one byte of the sent body flipped (`offset` into the sent body, default its middle); length kept |
 * | `resetMidBody` | resolve, cdn | socket reset (RST) after `afterBytes` body bytes (default half); a later `Range` request resumes normally |
 * | `slowBody` | resolve, cdn | headers sent at once, the body only after `delayMs` (default 500): a download that takes a while |
 * | `missingEtag` | resolve, cdn | `ETag` and `X-Linked-Etag` left out (also on the LFS 302) |
 * | `rateLimit` | api, resolve | 429 with `Retry-After` and `RateLimit` / `RateLimit-Policy` headers |
 * | `serverError` | api, resolve, cdn | `status` (default 500) with a JSON `{error}` body |
 * | `down` | both origins | every incoming connection/request is reset (ECONNRESET); default `times` = Infinity until cleared. For ECONNREFUSED use `hub.down()` / `hub.up()` |
 *
 * Body faults do not fire on HEAD requests nor on redirects (they have no body).
 */
export type FaultSpec =
  | (BodyFaultCommon & { kind: "truncateBody"; sendBytes?: number })
  | (BodyFaultCommon & { kind: "corruptBody"; offset?: number })
  | (BodyFaultCommon & { kind: "resetMidBody"; afterBytes?: number })
  | (BodyFaultCommon & { kind: "slowBody"; delayMs?: number })
  | (FaultCommon & { kind: "missingEtag" })
  | (FaultCommon & { kind: "rateLimit"; retryAfterSeconds?: number })
  | (FaultCommon & { kind: "serverError"; status?: number; retryAfterSeconds?: number })
  | { kind: "down"; times?: number };

export type FaultKind = FaultSpec["kind"];

export interface FaultHandle {
  readonly spec: FaultSpec;
  /** How many times it fired so far. */
  readonly fired: number;
  /** How many more times it will fire. */
  readonly remaining: number;
  /** Removes it. */
  clear(): void;
}

export interface FaultControls {
  /** Adds a fault; several faults may be active at once, the oldest matching one fires first. */
  set(fault: FaultSpec): FaultHandle;
  /** Removes every fault, or every fault of one kind. */
  clear(kind?: FaultKind): void;
  /** Faults still active. */
  readonly active: readonly FaultHandle[];
  /** How many faults fired in total (optionally of one kind), including cleared ones. */
  fired(kind?: FaultKind): number;
}

export interface StartFakeHubOptions {
  /** Hub origin port. @default 0 (random) */
  port?: number;
  /** CDN origin port. @default 0 (random) */
  cdnPort?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /**
   * When true, `GET /api/models/{repo}[/revision/{rev}]` with `expand` params returns only `_id`, `id`
   * and the expanded fields, like the real Hub. When false (default) every field is always returned.
   */
  honourExpand?: boolean;
  /**
   * When true (default, like the real CloudFront CDN) CDN replies carry `X-Cache: Miss from cloudfront`.
   * @huggingface/hub's `fileDownloadInfo` then keeps the CDN URL and downloads the body straight from it,
   * sending `Authorization` there (a direct request, not a redirect). Set to false to make the client
   * always go through the resolve redirect, which drops the token.
   */
  cdnCacheHeader?: boolean;
}

export interface FakeRepoInfo {
  readonly id: string;
  readonly private: boolean;
  readonly gated: GatedMode;
  /** Commit at the head of `main`. */
  readonly mainSha: string;
  readonly branches: ReadonlyMap<string, string>;
  readonly tags: ReadonlyMap<string, string>;
  /** Sorted file paths at a revision (default `main`); throws if the revision does not exist. */
  listFiles(revision?: string): string[];
}

export interface FakeHub {
  /** Hub origin, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  /** CDN origin (another port). */
  readonly cdnUrl: string;
  readonly port: number;
  readonly cdnPort: number;
  /** Every request received by either origin, in order. */
  readonly requests: RequestLogEntry[];
  /** Body bytes written by the CDN origin. */
  readonly cdnBytesSent: number;
  /** Body bytes of files written by the resolve route of the Hub origin. */
  readonly hubBytesSent: number;
  readonly faults: FaultControls;

  /** Creates a repo with an initial commit on `main`; returns the commit sha. */
  addRepo(spec: RepoSpec): string;
  /** Changes visibility or gating of an existing repo. */
  updateRepo(repoId: string, changes: { private?: boolean; gated?: GatedMode }): void;
  removeRepo(repoId: string): void;
  repo(repoId: string): FakeRepoInfo;
  /** New commit on `main` (or `options.branch`) with these files added/replaced; returns its sha. */
  commit(repoId: string, files: Record<string, FileContent>, options?: CommitOptions): string;
  /** Creates or moves a tag. */
  tag(repoId: string, tag: string, commitSha: string): void;
  /** Creates or moves a branch (`refs/pr/N` names act as pull-request refs). */
  branch(repoId: string, name: string, commitSha: string): void;
  /** Registers an access token (must start with `hf_`). */
  addToken(token: string, options?: TokenOptions): void;
  removeToken(token: string): void;

  /** Empties the request log and zeroes the byte counters. */
  resetLog(): void;
  /** Stops listening on both ports and drops open connections (clients get ECONNREFUSED). */
  down(): Promise<void>;
  /** Listens again on the same ports after {@link down}. */
  up(): Promise<void>;
  /** Stops both servers for good. */
  close(): Promise<void>;
}
