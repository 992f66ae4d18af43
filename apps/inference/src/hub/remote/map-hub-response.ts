import {
  DownloadRefusedError,
  EntryNotFoundError,
  GatedRepoError,
  HubError,
  HubUnavailableError,
  InvalidTokenError,
  RateLimitedError,
  RepoDisabledError,
  RepoNotFoundError,
  RevisionNotFoundError,
  THE_HUB,
  UnexpectedHubResponseError,
  type ArtifactRef,
  type HostRef,
} from "../errors.ts";

/**
 * Maps a failed Hub response to its typed error, from the status and the `X-Error-Code` / `X-Error-Message` headers
 * (the table in docs/hub-protocol.md). @huggingface/hub flattens these into one HubApiError whose message carries
 * the URL, so we read them here, before it does. The class decides the rest (retried? may the cache stand in?).
 * A reply from another host (the CDN, the Xet bridge) carries none of the Hub's headers and is read by its status
 * only: a 401 there is not "repository not found".
 */
export function mapHubResponse(
  response: Response,
  artifact: ArtifactRef,
  hadToken: boolean,
  host: HostRef = THE_HUB,
): HubError {
  const status = response.status;
  if (status === 429) return new RateLimitedError(artifact, rateLimitResetSeconds(response.headers), host, hadToken);
  if (status >= 500) return new HubUnavailableError(artifact, `HTTP ${status}`, false, host);
  if (!host.isHub) return new DownloadRefusedError(artifact, status, host);
  const code = response.headers.get("x-error-code");
  const message = safeHubMessage(response.headers.get("x-error-message"));
  if (code === "RepoNotFound") return new RepoNotFoundError(artifact, hadToken);
  if (code === "GatedRepo") return new GatedRepoError(artifact, hadToken);
  if (code === "RevisionNotFound") return new RevisionNotFoundError(artifact);
  if (code === "EntryNotFound") return new EntryNotFoundError(artifact);
  if (status === 401 && /invalid (credentials|token)/i.test(message)) return new InvalidTokenError(artifact);
  if (status === 401) return new RepoNotFoundError(artifact, hadToken);
  if (status === 403 && code === null && /disabled/i.test(message)) return new RepoDisabledError(artifact, message);
  return new UnexpectedHubResponseError(artifact, `HTTP ${status}${message ? `: "${message}"` : ""}`);
}

/**
 * The Hub's own message, fit to pass on: one line, at most 200 characters, and any URL cut before its query (a
 * signed URL carries credentials there).
 */
export function safeHubMessage(value: string | null): string {
  if (!value) return "";
  const line = value
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/(https?:\/\/[^\s?#"'<>]*)[?#][^\s"'<>]*/gi, "$1")
    .trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/**
 * How long a 429 asks us to wait, in seconds: the IETF `RateLimit` header the Hub sends (`"api";r=0;t=55`: `t` is
 * the seconds until the quota resets; the older `reset=55` form is read too), else `Retry-After` (seconds or an
 * HTTP date), as the Python client reads them.
 */
export function rateLimitResetSeconds(headers: Headers): number | undefined {
  const rateLimit = headers.get("ratelimit");
  const reset = rateLimit ? /(?:^|[;,\s])(?:t|reset)\s*=\s*(\d+)/i.exec(rateLimit) : null;
  if (reset) return Number(reset[1]);
  return retryAfterSeconds(headers);
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
