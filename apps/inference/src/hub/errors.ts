/** Which artifact a Hub problem concerns; every message names it. Never holds a URL or a token. */
export interface ArtifactRef {
  repo: string;
  revision: string;
  file?: string | undefined;
}

export function describe(ref: ArtifactRef): string {
  return `repo ${ref.repo}, revision ${ref.revision}${ref.file ? `, file ${ref.file}` : ""}`;
}

/** Base of every model-resolution failure: a stable `code` and a one-line message safe to log and to show. */
export abstract class HubError extends Error {
  abstract readonly code: string;
  constructor(
    readonly artifact: ArtifactRef,
    summary: string,
  ) {
    super(`${summary} (${describe(artifact)})`);
  }
}

export class RepoNotFoundError extends HubError {
  override readonly name = "RepoNotFoundError";
  readonly code = "repo_not_found";
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
  constructor(artifact: ArtifactRef) {
    super(artifact, "the Hub refused the token (invalid or expired HF_TOKEN)");
  }
}

export class RevisionNotFoundError extends HubError {
  override readonly name = "RevisionNotFoundError";
  readonly code = "revision_not_found";
  constructor(artifact: ArtifactRef) {
    super(artifact, "revision not found: MODEL_VERSION must be a branch, tag or commit of the repo");
  }
}

export class EntryNotFoundError extends HubError {
  override readonly name = "EntryNotFoundError";
  readonly code = "file_not_found";
  constructor(artifact: ArtifactRef, available: readonly string[] = []) {
    const hint = available.length > 0 ? `; files ending in .gguf there: ${available.slice(0, 10).join(", ")}` : "";
    super(artifact, `file not found in the repo at this revision${hint}`);
  }
}

export class RateLimitedError extends HubError {
  override readonly name = "RateLimitedError";
  readonly code = "rate_limited";
  constructor(
    artifact: ArtifactRef,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(
      artifact,
      `the Hub is rate limiting requests${retryAfterSeconds === undefined ? "" : `; retry after ${retryAfterSeconds}s`}`,
    );
  }
}

export class HubUnavailableError extends HubError {
  override readonly name = "HubUnavailableError";
  readonly code = "hub_unavailable";
  constructor(artifact: ArtifactRef, reason: string) {
    super(artifact, `the Hub is unreachable (${reason}) and nothing is cached for this revision`);
  }
}

export class NotCachedError extends HubError {
  override readonly name = "NotCachedError";
  readonly code = "not_cached";
  constructor(artifact: ArtifactRef) {
    super(artifact, "HF_HUB_OFFLINE is set and the artifact is not in the cache");
  }
}

export class DownloadInterruptedError extends HubError {
  override readonly name = "DownloadInterruptedError";
  readonly code = "download_interrupted";
  constructor(artifact: ArtifactRef, reason: string) {
    super(artifact, `the download stopped before the end of the file (${reason}); no partial file was kept`);
  }
}

export class IntegrityError extends HubError {
  override readonly name = "IntegrityError";
  readonly code = "checksum_mismatch";
  constructor(artifact: ArtifactRef, what: string) {
    super(artifact, `integrity check failed: ${what}; the corrupt copy was removed from the cache`);
  }
}

export class UnexpectedHubResponseError extends HubError {
  override readonly name = "UnexpectedHubResponseError";
  readonly code = "unexpected_hub_response";
  constructor(artifact: ArtifactRef, what: string) {
    super(artifact, `unexpected answer from the Hub: ${what}`);
  }
}
