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
  /**
   * Stored with Xet, as repos are since 2025: LFS files resolve to the Xet bridge origin (with `X-Xet-Hash` and a
   * `Link: <...>; rel="xet-auth"`), paths-info and tree entries carry `xetHash` beside `lfs.oid`, and a resolve
   * request that accepts `application/vnd.xet-fileinfo+json` gets the Xet file info instead of a redirect.
   * @default false
   */
  xet?: boolean;
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

/** The fake's three origins: the Hub, the LFS CDN, and the Xet bridge that serves Xet-stored files whole. */
export type FakeOrigin = "hub" | "cdn" | "bridge";

/** The Hub API routes (they count against the Hub's API quota of 500 requests per 5 minutes per IP). */
export type ApiRoute = "whoami" | "model-info" | "revision" | "tree" | "paths-info" | "refs" | "xet-read-token";

/** Which route a logged request was for: an API route, a file transfer (`resolve`, `raw`), a CDN or bridge GET. */
export type RouteLabel = ApiRoute | "resolve" | "raw" | "cdn" | "bridge" | "other";

export interface RequestLogEntry {
  origin: FakeOrigin;
  /** The route, for per-route counts (see FakeHub.requestCounts). */
  route: RouteLabel;
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
 * - `bridge`: the Xet bridge origin that serves the files of Xet-stored repos (see RepoSpec.xet)
 */
export type FaultWhere = "api" | "resolve" | "cdn" | "bridge";

export interface FaultCommon {
  /** How many matching requests the fault affects. @default 1 (`Infinity` = until cleared) */
  times?: number;
  /** Only requests for this file path (exact repo path, e.g. `"model.gguf"` or `"sub/dir/x.bin"`). Never matches `api`. */
  path?: string;
  /** Only requests for this repo id. */
  repo?: string;
  /** Restrict where the fault may fire (defaults depend on the kind, see {@link FaultSpec}). */
  where?: FaultWhere | FaultWhere[];
  /** Only API requests of this route (e.g. `"paths-info"`); never matches a file transfer. */
  route?: ApiRoute;
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
 * | `slowBody` | resolve, cdn, bridge | headers sent at once, the body only after `delayMs` (default 500): a download that takes a while |
 * | `stallBody` | resolve, cdn, bridge | `afterBytes` body bytes (default half), then nothing: the connection stays open until the client gives up (or, with `stallMs`, the rest follows after that long) |
 * | `missingEtag` | resolve, cdn, bridge | `ETag` and `X-Linked-Etag` left out (also on the LFS 302) |
 * | `rateLimit` | api, resolve | 429 with `RateLimit: "api"\|"resolvers";r=0;t=<retryAfterSeconds>` and `RateLimit-Policy`, and no `Retry-After` (the real Hub's shape) unless `retryAfterHeader` |
 * | `serverError` | api, resolve, cdn, bridge | `status` (default 500); on the Hub a JSON `{error}` body with `X-Error-Message`, on the CDN and the bridge an XML body and no Hub headers |
 * | `cdnError` | cdn, bridge | `status` (default 403) with an S3-style XML body and no Hub headers (no `X-Error-Code`, no `X-Error-Message`) |
 * | `down` | all origins | every incoming connection/request is reset (ECONNRESET); default `times` = Infinity until cleared. For ECONNREFUSED use `hub.down()` / `hub.up()` (one origin: `hub.down("bridge")`) |
 *
 * Body faults do not fire on HEAD requests nor on redirects (they have no body).
 */
export type FaultSpec =
  | (BodyFaultCommon & { kind: "truncateBody"; sendBytes?: number })
  | (BodyFaultCommon & { kind: "corruptBody"; offset?: number })
  | (BodyFaultCommon & { kind: "resetMidBody"; afterBytes?: number })
  | (BodyFaultCommon & { kind: "slowBody"; delayMs?: number })
  | (BodyFaultCommon & { kind: "stallBody"; afterBytes?: number; stallMs?: number })
  | (FaultCommon & { kind: "missingEtag" })
  | (FaultCommon & { kind: "rateLimit"; retryAfterSeconds?: number; retryAfterHeader?: boolean })
  | (FaultCommon & { kind: "serverError"; status?: number; retryAfterSeconds?: number })
  | (FaultCommon & { kind: "cdnError"; status?: number })
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
  /** Xet bridge origin port. @default 0 (random) */
  bridgePort?: number;
  /** The initial {@link FakeHubSettings} (each may be changed later through `hub.settings`). */
  settings?: Partial<FakeHubSettings>;
}

/**
 * Behaviours of the real Hub that a test switches on or off, at start (`startFakeHub({ settings })`) or at any
 * time (`hub.settings.cdnEtag = "none"`).
 */
export interface FakeHubSettings {
  /**
   * The ETag of CDN and bridge replies: `"content"` (the sha256, stable), `"none"` (no ETag at all) or
   * `"per-request"` (a new one on every reply, so `If-Range` never matches and a resume gets the whole body).
   * @default "content"
   */
  cdnEtag: "content" | "none" | "per-request";
  /**
   * The bridge answers 400 to a GET without `Range` of a file larger than this (the real one: 50 GB), and 206 to a
   * ranged one. @default 50 GiB
   */
  unrangedLimitBytes: number;
  /**
   * Small (non-LFS) files come gzip-compressed: `Content-Encoding: gzip`, chunked (no `Content-Length`), a weak ETag,
   * and `Range` ignored (always 200), whatever the request's `Accept-Encoding` says (fetch sends `identity` with a
   * `Range`), so that a client must cope with it. @default false
   */
  gzipSmallFiles: boolean;
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
  /** Xet bridge origin (a third port): where Xet-stored files redirect to. */
  readonly bridgeUrl: string;
  readonly port: number;
  readonly cdnPort: number;
  readonly bridgePort: number;
  /** The switches of {@link FakeHubSettings}; assign to change them. */
  readonly settings: FakeHubSettings;
  /** Every request received by either origin, in order. */
  readonly requests: RequestLogEntry[];
  /** Body bytes written by the CDN origin. */
  readonly cdnBytesSent: number;
  /** Body bytes written by the Xet bridge origin. */
  readonly bridgeBytesSent: number;
  /** How many logged requests went to each route (routes with none are left out). */
  requestCounts(): Partial<Record<RouteLabel, number>>;
  /** How many logged requests went to the Hub API (the routes of {@link ApiRoute}). */
  apiRequestCount(): number;
  /** Body bytes of files written by the resolve route of the Hub origin. */
  readonly hubBytesSent: number;
  readonly faults: FaultControls;

  /** Creates a repo with an initial commit on `main`; returns the commit sha. */
  addRepo(spec: RepoSpec): string;
  /**
   * Changes visibility, gating, Xet storage, or disables the repo (every request for it then gets a 403 with only
   * `X-Error-Message: Access to this resource is disabled.`, no `X-Error-Code`).
   */
  updateRepo(
    repoId: string,
    changes: { private?: boolean; gated?: GatedMode; xet?: boolean; disabled?: boolean },
  ): void;
  /**
   * Renames a repo: it answers as `to`, and every request naming `from` gets a 307 with a relative `Location`
   * (`/api/models/<to>/...`, `/<to>/resolve/...`), as the real Hub answers for a renamed or transferred repo.
   */
  renameRepo(from: string, to: string): void;
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
  /** Stops listening on every port, or one origin's, and drops open connections (clients get ECONNREFUSED). */
  down(origin?: FakeOrigin): Promise<void>;
  /** Listens again on the same ports after {@link down}. */
  up(origin?: FakeOrigin): Promise<void>;
  /** Stops both servers for good. */
  close(): Promise<void>;
}
