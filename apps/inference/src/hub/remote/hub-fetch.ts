import { HubUnavailableError, UnexpectedHubResponseError, type ArtifactRef, type HubError } from "../errors.ts";
import type { HubSession } from "../session.ts";
import { hostOf } from "./hosts.ts";
import { mapHubResponse, rateLimitResetSeconds } from "./map-hub-response.ts";
import { backoffDelay, DEFAULT_TIMEOUT_MS, sleep } from "./retry-policy.ts";
import { USER_AGENT } from "./user-agent.ts";

export interface HubFetchOptions extends Pick<HubSession, "hubUrl" | "retry" | "fetch"> {
  artifact: ArtifactRef;
  hadToken: boolean;
  /**
   * HF_HUB_DOWNLOAD_TIMEOUT: the longest wait for a reply's headers, and between two chunks of an API reply's body;
   * a request that stays silent that long is retried like a dropped connection. (A download's body has its own
   * idle timeout, followed by a resume: see cache/download-blob.ts.)
   */
  timeoutMs?: number;
  /** Told before each retry, with the typed reason and the wait. */
  onRetry?: (retry: { attempt: number; waitMs: number; reason: HubError }) => void;
  /** Told when the Hub redirects a request for one repo to another (the repo was renamed or moved). */
  onRepoRedirect?: (redirect: { from: string; to: string }) => void;
}

export interface HubFetch {
  fetch: typeof fetch;
}

type Attempt = { response: Response } | { failure: HubError; retryAfterMs: number | undefined };

const MAX_REDIRECTS = 10;

/** A silent server: no headers (or no next chunk of an API body) within the timeout. */
class SilenceError extends Error {
  override readonly name = "SilenceError";
}

/**
 * The fetch handed to @huggingface/hub and used for downloads:
 * - every request says `User-Agent: slm-serve/<version>`;
 * - redirects are followed here, hop by hop, so that the token stays on the Hub origin (Node's fetch drops
 *   Authorization on a cross-origin hop, but @huggingface/hub also requests CloudFront URLs directly *with* it, so
 *   it is removed for any other origin), a failure names the host it happened on (the Xet bridge, the CDN), and a
 *   relative 307 to another repo (a renamed repo) is reported;
 * - every failed response becomes a typed HubError (before the library builds a message with the URL in it);
 * - the failures whose class says `retryable` (network failures, silence, 429 and 5xx) are retried with
 *   exponential backoff that gives way to the server's `RateLimit` / `Retry-After`, as long as the waits of one
 *   request add up to no more than `retry.maxWaitMs`: a server asking for longer is not waited for, and the typed
 *   error (e.g. RateLimitedError with the wait) goes up at once;
 * - an API reply's body is read here, with the idle timeout, so a stalled body is retried too.
 */
export function createHubFetch(options: HubFetchOptions): HubFetch {
  const base = options.fetch ?? globalThis.fetch;
  const { retry, artifact } = options;
  const hubOrigin = new URL(options.hubUrl).origin;
  const apiPrefix = `${options.hubUrl}/api/`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  const attempt = async (start: URL, init: RequestInit): Promise<Attempt> => {
    let url = start;
    let method = (init.method ?? "GET").toUpperCase();
    let body = init.body;
    for (let hop = 0; ; hop++) {
      const host = hostOf(url, hubOrigin);
      const headers = new Headers(init.headers);
      headers.set("user-agent", USER_AGENT);
      if (url.origin !== hubOrigin) headers.delete("authorization");
      const silence = new AbortController();
      const signal = init.signal ? AbortSignal.any([init.signal, silence.signal]) : silence.signal;
      let timer = setTimeout(() => silence.abort(new SilenceError()), timeoutMs);
      let response: Response;
      try {
        response = await base(url, { ...init, method, body: body ?? null, headers, redirect: "manual", signal });
      } catch (error) {
        if (init.signal?.aborted) throw init.signal.reason ?? error;
        const reason = silence.signal.aborted ? `no answer within ${seconds(timeoutMs)}` : networkReason(error);
        return { failure: new HubUnavailableError(artifact, reason, false, host), retryAfterMs: undefined };
      } finally {
        clearTimeout(timer);
      }
      const location = response.headers.get("location");
      if (isRedirect(response.status) && location !== null && init.redirect !== "manual") {
        await response.body?.cancel().catch(() => {});
        if (hop >= MAX_REDIRECTS) {
          return { failure: new UnexpectedHubResponseError(artifact, "too many redirects"), retryAfterMs: undefined };
        }
        const next = new URL(location, url);
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
          method = "GET";
          body = undefined;
        }
        if (url.origin === hubOrigin && next.origin === hubOrigin) {
          const from = repoOfPath(url.pathname);
          const to = repoOfPath(next.pathname);
          if (from && to && from !== to) options.onRepoRedirect?.({ from, to });
        }
        url = next;
        continue;
      }
      if (response.status >= 300 && response.status < 400) return { response };
      if (response.ok) {
        if (!url.href.startsWith(apiPrefix) || method === "HEAD") return { response };
        // An API reply: read here, so that a body that stalls is retried like a silent server.
        const arm = () => {
          clearTimeout(timer);
          timer = setTimeout(() => silence.abort(new SilenceError()), timeoutMs);
        };
        arm();
        try {
          const bytes = await readAll(response, arm);
          return {
            response: new Response(bytes, {
              status: response.status,
              statusText: response.statusText,
              headers: response.headers,
            }),
          };
        } catch (error) {
          if (init.signal?.aborted) throw init.signal.reason ?? error;
          const reason = silence.signal.aborted ? `no data for ${seconds(timeoutMs)}` : networkReason(error);
          return { failure: new HubUnavailableError(artifact, reason, false, host), retryAfterMs: undefined };
        } finally {
          clearTimeout(timer);
        }
      }
      await response.body?.cancel().catch(() => {});
      const after = rateLimitResetSeconds(response.headers);
      return {
        failure: mapHubResponse(response, artifact, options.hadToken, host),
        retryAfterMs: after ? after * 1000 : undefined,
      };
    }
  };

  const hubFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (input instanceof Request) {
      init = { method: input.method, headers: input.headers, ...init };
    }
    const url = new URL(input instanceof Request ? input.url : input);
    let waited = 0;
    for (let retries = 0; ; retries++) {
      const result = await attempt(url, init);
      if ("response" in result) return result.response;
      const waitMs = result.retryAfterMs ?? backoffDelay(retries, retry);
      if (!result.failure.retryable || retries >= retry.retries || waited + waitMs > retry.maxWaitMs) {
        throw result.failure;
      }
      options.onRetry?.({ attempt: retries + 1, waitMs, reason: result.failure });
      await sleep(waitMs);
      waited += waitMs;
    }
  };

  return { fetch: hubFetch as typeof fetch };
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** The repo id a Hub path names: `/api/models/{org}/{name}/...` or `/{org}/{name}/resolve|raw/...`. */
function repoOfPath(pathname: string): string | undefined {
  const parts = pathname.split("/").filter((p) => p !== "");
  const api = parts.indexOf("api");
  if (api !== -1 && parts[api + 1] === "models" && parts.length >= api + 4) {
    return `${parts[api + 2]}/${parts[api + 3]}`;
  }
  const action = parts.findIndex((p) => p === "resolve" || p === "raw");
  return action >= 2 ? `${parts[action - 2]}/${parts[action - 1]}` : undefined;
}

/** The whole body, calling `onChunk` after each chunk (to re-arm the idle timer that aborts the request). */
async function readAll(response: Response, onChunk: () => void): Promise<Uint8Array<ArrayBuffer>> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(new ArrayBuffer(0));
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    onChunk();
  }
  const bytes = new Uint8Array(new ArrayBuffer(total));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
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
