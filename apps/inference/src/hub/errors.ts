import { SafeError } from "@slm/config";

/** Which artifact a Hub problem concerns; the message names it. Never holds a URL or a token. */
export interface ArtifactRef {
  repo: string;
  revision: string;
  file?: string | undefined;
}

function describeArtifact(ref: ArtifactRef): string {
  return `repo ${ref.repo}, revision ${ref.revision}${ref.file ? `, file ${ref.file}` : ""}`;
}

/**
 * Base of every model-resolution failure: a stable `code` and a one-line message safe to log and to show, naming the
 * artifact when there is one (a configuration or token-file problem comes before any artifact). Each class also
 * says how the supply chain treats it, so that no caller keeps its own list of classes: whether the Hub fetch
 * retries it (`retryable`), and whether a verified cached copy may be served instead (`cacheMayStandIn`: the Hub
 * could not be asked, as opposed to the Hub answering no). A new Hub failure is a class here and a line in
 * remote/map-hub-response.ts.
 */
export abstract class HubError extends SafeError {
  /** The Hub fetch retries it (with backoff, giving way to Retry-After). */
  abstract readonly retryable: boolean;
  /** When resolving the revision fails with it, a verified cached copy of the revision is served instead. */
  abstract readonly cacheMayStandIn: boolean;
  constructor(
    readonly artifact: ArtifactRef | undefined,
    summary: string,
    /** What to do about it, after the artifact. */
    hint?: string,
  ) {
    super(`${summary}${artifact ? ` (${describeArtifact(artifact)})` : ""}${hint ? `. ${hint}` : ""}`);
  }
}

/** For a first start where the Hub cannot be reached: the three ways to run anyway. */
const OFFLINE_HINT =
  "To run without reaching the Hub: point HF_ENDPOINT at a mirror you can reach; or run `pnpm models:pull` where the " +
  "Hub is reachable and start with HF_HUB_OFFLINE=1 and the same cache (HF_HOME); or try the whole stack offline with `pnpm demo`";

export class RepoNotFoundError extends HubError {
  override readonly name = "RepoNotFoundError";
  readonly code = "repo_not_found";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, hadToken: boolean) {
    super(
      artifact,
      hadToken
        ? "repository not found, or the token has no access to it"
        : "repository not found, or private and no HF_TOKEN was given",
    );
  }
}

export class GatedRepoError extends HubError {
  override readonly name = "GatedRepoError";
  readonly code = "gated_repo";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, hadToken: boolean) {
    super(
      artifact,
      hadToken
        ? "gated repository: the token's account has not been granted access (accept the conditions on the Hub)"
        : "gated repository: set HF_TOKEN for an account that has been granted access",
    );
  }
}

export class InvalidTokenError extends HubError {
  override readonly name = "InvalidTokenError";
  readonly code = "invalid_token";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef) {
    super(artifact, "the Hub refused the token (invalid or expired HF_TOKEN)");
  }
}

export class RevisionNotFoundError extends HubError {
  override readonly name = "RevisionNotFoundError";
  readonly code = "revision_not_found";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef) {
    super(artifact, "revision not found: MODEL_VERSION must be a branch, tag or commit of the repo");
  }
}

export class EntryNotFoundError extends HubError {
  override readonly name = "EntryNotFoundError";
  readonly code = "file_not_found";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, available: readonly string[] = []) {
    const hint = available.length > 0 ? `; files ending in .gguf there: ${available.slice(0, 10).join(", ")}` : "";
    super(artifact, `file not found in the repo at this revision${hint}`);
  }
}

/**
 * Who answered (or failed to): the Hub itself, its Xet bridge, or another download host (the LFS CDN). Only the
 * host, never a path or a query, so a firewall rule can be written from the message.
 */
export interface HostRef {
  /** E.g. "the Hub at huggingface.co", "the Xet bridge cas-bridge.xethub.hf.co", "the download host cdn-lfs.hf.co". */
  subject: string;
  /** Whether it is the Hub origin (HF_ENDPOINT), where the Hub's error headers mean something. */
  isHub: boolean;
}

/** What an error says when no host is known. */
export const THE_HUB: HostRef = { subject: "the Hub", isHub: true };

export class RateLimitedError extends HubError {
  override readonly name = "RateLimitedError";
  readonly code = "rate_limited";
  readonly retryable = true;
  readonly cacheMayStandIn = true;
  constructor(
    artifact: ArtifactRef,
    /** How long the Hub asks us to wait (its `RateLimit` header's `t`, else `Retry-After`), when it says. */
    readonly retryAfterSeconds: number | undefined,
    readonly host: HostRef = THE_HUB,
    hadToken = true,
  ) {
    super(
      artifact,
      `${host.subject} is rate limiting requests${retryAfterSeconds === undefined ? "" : `; retry after ${retryAfterSeconds}s`}`,
      host.isHub && !hadToken
        ? "Requests without HF_TOKEN share the anonymous quota of their IP address (500 API requests per 5 minutes); a token has its own"
        : undefined,
    );
  }
}

export class HubUnavailableError extends HubError {
  override readonly name = "HubUnavailableError";
  readonly code = "hub_unavailable";
  readonly retryable = true;
  readonly cacheMayStandIn = true;
  constructor(
    artifact: ArtifactRef,
    readonly reason: string,
    nothingCached = false,
    readonly host: HostRef = THE_HUB,
  ) {
    super(
      artifact,
      `${host.subject} is unreachable (${reason})${nothingCached ? " and nothing is cached for this revision" : ""}`,
      nothingCached ? OFFLINE_HINT : undefined,
    );
  }
}

/** The Hub disabled the repository (a 403 with only `X-Error-Message`); its message is passed on. */
export class RepoDisabledError extends HubError {
  override readonly name = "RepoDisabledError";
  readonly code = "repo_disabled";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, hubMessage: string) {
    super(artifact, `the Hub refuses access to the repository: "${hubMessage}"`);
  }
}

/**
 * The CDN or the Xet bridge refused the file with a status that is neither 429 nor 5xx (403 for an expired signed
 * URL, 400 for an unranged GET of a very large file, ...). Its replies carry none of the Hub's headers, so only
 * the status and the host are known.
 */
export class DownloadRefusedError extends HubError {
  override readonly name = "DownloadRefusedError";
  readonly code = "download_refused";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(
    artifact: ArtifactRef,
    readonly status: number,
    readonly host: HostRef,
  ) {
    super(artifact, `${host.subject} refused the download (HTTP ${status})`);
  }
}

export class NotCachedError extends HubError {
  override readonly name = "NotCachedError";
  readonly code = "not_cached";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef) {
    super(artifact, "HF_HUB_OFFLINE is set and the artifact is not in the cache (run `pnpm models:pull` while online)");
  }
}

export class UnverifiableCacheError extends HubError {
  override readonly name = "UnverifiableCacheError";
  readonly code = "unverifiable_cache";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef) {
    super(
      artifact,
      "the cached file cannot be verified: it is not a Hub blob named by its sha256, and neither MODEL_SHA256, a lockfile nor an earlier online start recorded its checksum",
      "Start once with the Hub reachable, or set MODEL_SHA256, or pin it with `pnpm models:lock`",
    );
  }
}

export class DownloadInterruptedError extends HubError {
  override readonly name = "DownloadInterruptedError";
  readonly code = "download_interrupted";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, reason: string, host?: HostRef) {
    super(
      artifact,
      `the download stopped before the end of the file (${reason}${host ? `, from ${host.subject}` : ""}); no partial file was kept`,
    );
  }
}

export class IntegrityError extends HubError {
  override readonly name = "IntegrityError";
  readonly code = "checksum_mismatch";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, what: string) {
    super(artifact, `integrity check failed: ${what}; the corrupt copy was removed from the cache`);
  }
}

export class DiskFullError extends HubError {
  override readonly name = "DiskFullError";
  readonly code = "disk_full";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, neededBytes: number, cacheDir: string) {
    super(
      artifact,
      `no space left on the device holding the Hub cache ${cacheDir} (the file needs ${neededBytes} bytes); no partial file was kept`,
    );
  }
}

export class CacheNotWritableError extends HubError {
  override readonly name = "CacheNotWritableError";
  readonly code = "cache_not_writable";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, cacheDir: string, reason: string) {
    super(
      artifact,
      `cannot write to the Hub cache ${cacheDir} (${reason}); set MODEL_CACHE_DIR or HF_HUB_CACHE to a writable folder`,
    );
  }
}

export class FloatingRevisionError extends HubError {
  override readonly name = "FloatingRevisionError";
  readonly code = "floating_revision";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, variable = "MODEL_VERSION") {
    super(
      artifact,
      `${variable} names a branch, which can move under a running service: in production pin a tag or a commit, ` +
        "lock it with `pnpm models:lock`, or set MODEL_ALLOW_FLOATING_REVISION=1",
    );
  }
}

export class LicenseNotAllowedError extends HubError {
  override readonly name = "LicenseNotAllowedError";
  readonly code = "license_not_allowed";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, found: string, allowed: readonly string[]) {
    super(artifact, `${found}, which is not in MODEL_LICENSES_ALLOWED (${allowed.join(", ")})`);
  }
}

/** The configured artifact is not the one models.lock.json pins (another repo, revision or file). */
export class LockfileMismatchError extends HubError {
  override readonly name = "LockfileMismatchError";
  readonly code = "lockfile_mismatch";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, lockfile: string, what: string) {
    super(artifact, `${what}, but ${lockfile} pins another artifact: run \`pnpm models:lock\` to lock the new one`);
  }
}

/** The locked tag or branch now points at another commit on the Hub. */
export class LockedRevisionMovedError extends HubError {
  override readonly name = "LockedRevisionMovedError";
  readonly code = "locked_revision_moved";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, lockfile: string, lockedCommit: string, nowCommit: string) {
    super(
      artifact,
      `the revision now points to commit ${nowCommit} but ${lockfile} pins ${lockedCommit}: ` +
        "someone moved it; check the change, then run `pnpm models:lock` to accept it",
    );
  }
}

/** The locked file's size or sha256 differs from what the Hub (or the cache) holds. */
export class LockedFileChangedError extends HubError {
  override readonly name = "LockedFileChangedError";
  readonly code = "locked_file_changed";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, lockfile: string, what: string) {
    super(artifact, `the file differs from ${lockfile}: ${what}`);
  }
}

export class InvalidLockfileError extends HubError {
  override readonly name = "InvalidLockfileError";
  readonly code = "invalid_lockfile";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, lockfile: string, what: string) {
    super(artifact, `${lockfile} is not a valid models lockfile (${what}): fix it or run \`pnpm models:lock\` again`);
  }
}

export class UnexpectedHubResponseError extends HubError {
  override readonly name = "UnexpectedHubResponseError";
  readonly code = "unexpected_hub_response";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, what: string) {
    super(artifact, `unexpected answer from the Hub: ${what}`);
  }
}

/** BASE_MODEL_FILE is unset, so BASE_MODEL must be a transformers model repo, and it is not (nor a GGUF repo). */
export class NotAModelRepoError extends HubError {
  override readonly name = "NotAModelRepoError";
  readonly code = "not_a_model_repo";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(
    artifact: ArtifactRef,
    what = "no config.json with model.safetensors (or its index and shards), and no .gguf file",
  ) {
    super(artifact, `BASE_MODEL is not a model repo: ${what}`);
  }
}

/** BASE_MODEL_FILE is unset but BASE_MODEL is a GGUF repo: which file to serve is the user's choice. */
export class BaseFileRequiredError extends HubError {
  override readonly name = "BaseFileRequiredError";
  readonly code = "base_file_required";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(artifact: ArtifactRef, ggufFiles: readonly string[]) {
    super(
      artifact,
      `BASE_MODEL is a GGUF repo: set BASE_MODEL_FILE to one of its files (${ggufFiles.slice(0, 10).join(", ")})`,
    );
  }
}

/** The token file (HF_TOKEN_PATH, or $HF_HOME/token) holds something that is not a Hub token. */
export class TokenFileError extends HubError {
  override readonly name = "TokenFileError";
  readonly code = "invalid_token_file";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(tokenPath: string) {
    super(undefined, `the token file ${tokenPath} does not hold a Hub token (expected one starting with hf_)`);
  }
}

/** The configuration names no artifact the supply chain can resolve. */
export class UnsupportedModelTypeError extends HubError {
  override readonly name = "UnsupportedModelTypeError";
  readonly code = "unsupported_configuration";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(what: string) {
    super(undefined, what);
  }
}

/** A name from the Hub (or the environment) that would put a cache path outside its folder. */
export class CachePathError extends HubError {
  override readonly name = "CachePathError";
  readonly code = "invalid_cache_path";
  readonly retryable = false;
  readonly cacheMayStandIn = false;
  constructor(what: string) {
    super(undefined, what);
  }
}
