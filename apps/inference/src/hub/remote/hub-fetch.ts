import { HubUnavailableError, type ArtifactRef, type HubError } from "../errors.ts";
import type { HubSession } from "../session.ts";
import { mapHubResponse, retryAfterSeconds } from "./map-hub-response.ts";
import { backoffDelay, sleep } from "./retry-policy.ts";

export interface HubFetchOptions extends Pick<HubSession, "hubUrl" | "retry" | "fetch"> {
  artifact: ArtifactRef;
  hadToken: boolean;
  /** Told before each retry, with the typed reason and the wait. */
  onRetry?: (retry: { attempt: number; waitMs: number; reason: HubError }) => void;
}

export interface HubFetch {
  fetch: typeof fetch;
  /**
   * The typed error behind the last failure. @huggingface/hub wraps some failures in its own errors (with the URL in
   * the message), so the caller looks here to recover the class.
   */
  lastError(): HubError | undefined;
}

type Attempt = { response: Response } | { failure: HubError; retryAfterMs: number | undefined };

/**
 * The fetch handed to @huggingface/hub and used for downloads: it turns every failed response into a typed HubError
 * (before the library builds a message with the URL in it), retries the failures whose class says `retryable`
 * (network failures, 429 and 5xx) with exponential backoff that gives way to Retry-After (a server asking for more
 * than maxWaitMs is not waited for: the typed error, e.g. RateLimitedError with the wait, goes up at once), and keeps
 * the token on the Hub origin. Node's fetch drops
 * Authorization on the redirect hop to the CDN, but @huggingface/hub also requests CloudFront URLs directly *with*
 * Authorization, so it is removed here for any other origin.
 */
export function createHubFetch(options: HubFetchOptions): HubFetch {
  const base = options.fetch ?? globalThis.fetch;
  const { retry } = options;
  const hubOrigin = new URL(options.hubUrl).origin;
  let last: HubError | undefined;

  const attempt = async (input: string | URL | Request, init: RequestInit | undefined): Promise<Attempt> => {
    let response: Response;
    try {
      response = await base(input, init);
    } catch (error) {
      return { failure: new HubUnavailableError(options.artifact, networkReason(error)), retryAfterMs: undefined };
    }
    if (response.ok || (response.status >= 300 && response.status < 400)) return { response };
    await response.body?.cancel().catch(() => {});
    const after = retryAfterSeconds(response.headers);
    return {
      failure: mapHubResponse(response, options.artifact, options.hadToken),
      retryAfterMs: after === undefined ? undefined : after * 1000,
    };
  };

  const hubFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.origin !== hubOrigin && init?.headers) {
      const headers = new Headers(init.headers);
      headers.delete("authorization");
      init = { ...init, headers };
    }
    for (let retries = 0; ; retries++) {
      const result = await attempt(input, init);
      if ("response" in result) return result.response;
      const waitMs = result.retryAfterMs ?? backoffDelay(retries, retry);
      if (!result.failure.retryable || retries >= retry.retries || waitMs > retry.maxWaitMs) {
        last = result.failure;
        throw result.failure;
      }
      options.onRetry?.({ attempt: retries + 1, waitMs, reason: result.failure });
      await sleep(waitMs);
    }
  };

  return { fetch: hubFetch as typeof fetch, lastError: () => last };
}

/** A short cause for a failed connection, without the address. */
export function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string } })?.cause;
  const code = cause?.code ?? (error as { code?: string })?.code;
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return "timed out";
    default:
      return code ? code.toLowerCase() : "network error";
  }
}
