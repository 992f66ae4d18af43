import {
  GatedRepoError,
  HubUnavailableError,
  InvalidTokenError,
  RateLimitedError,
  RepoNotFoundError,
  RevisionNotFoundError,
  EntryNotFoundError,
  UnexpectedHubResponseError,
  HubError,
  type ArtifactRef,
} from "../errors.ts";

/**
 * Maps a failed Hub response to its typed error, from the status and the `X-Error-Code` / `X-Error-Message` headers
 * (the table in docs/hub-protocol.md). @huggingface/hub flattens these into one HubApiError whose message carries
 * the URL, so we read them here, before it does. The class decides the rest (retried? may the cache stand in?).
 */
export function mapHubResponse(response: Response, artifact: ArtifactRef, hadToken: boolean): HubError {
  const code = response.headers.get("x-error-code");
  const message = response.headers.get("x-error-message") ?? "";
  const status = response.status;
  if (code === "RepoNotFound") return new RepoNotFoundError(artifact, hadToken);
  if (code === "GatedRepo") return new GatedRepoError(artifact, hadToken);
  if (code === "RevisionNotFound") return new RevisionNotFoundError(artifact);
  if (code === "EntryNotFound") return new EntryNotFoundError(artifact);
  if (status === 401 && /invalid (credentials|token)/i.test(message)) return new InvalidTokenError(artifact);
  if (status === 401) return new RepoNotFoundError(artifact, hadToken);
  if (status === 429) return new RateLimitedError(artifact, retryAfterSeconds(response.headers));
  if (status >= 500) return new HubUnavailableError(artifact, `HTTP ${status}`);
  return new UnexpectedHubResponseError(artifact, `HTTP ${status}`);
}

/** Retry-After as seconds, from either delta-seconds or an HTTP date. */
export function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Any failure of a Hub call as a HubError; a foreign error is named, never quoted (library messages embed request URLs). */
export function asHubError(error: unknown, artifact: ArtifactRef): HubError {
  if (error instanceof HubError) return error;
  return new UnexpectedHubResponseError(artifact, error instanceof Error ? error.name : "unknown failure");
}
