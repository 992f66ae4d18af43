import { HubUnavailableError, type ArtifactRef, type HubError } from "./errors.ts";
import { mapHubResponse } from "./map-hub-response.ts";

export interface HubFetchOptions {
  /** The Hub origin: the only one that ever receives the token. */
  hubUrl: string;
  artifact: ArtifactRef;
  hadToken: boolean;
  /** Called with the size of each body chunk of a full download, for progress. */
  onBytes?: (bytes: number) => void;
  fetch?: typeof fetch;
}

export interface HubFetch {
  fetch: typeof fetch;
  /**
   * The typed error behind the last failure. @huggingface/hub turns body-stream failures into a bare string
   * (`stream.writable.abort(error.message)`), so the caller looks here to recover the class.
   */
  lastError(): HubError | undefined;
}

/**
 * The fetch handed to @huggingface/hub: it turns every failed response into a typed HubError (before the library
 * builds a message with the URL in it), turns network failures into HubUnavailableError, and counts body bytes.
 * It also keeps the token on the Hub origin: Node's fetch drops Authorization on the redirect hop to the CDN, but
 * @huggingface/hub then requests a CloudFront CDN URL directly *with* Authorization, so it is removed here for any
 * other origin.
 */
export function createHubFetch(options: HubFetchOptions): HubFetch {
  const base = options.fetch ?? globalThis.fetch;
  const hubOrigin = new URL(options.hubUrl).origin;
  let last: HubError | undefined;
  const remember = (error: HubError): HubError => {
    last = error;
    return error;
  };

  const hubFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let response: Response;
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.origin !== hubOrigin && init?.headers) {
      const headers = new Headers(init.headers);
      headers.delete("authorization");
      init = { ...init, headers };
    }
    try {
      response = await base(input, init);
    } catch (error) {
      throw remember(new HubUnavailableError(options.artifact, networkReason(error)));
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw remember(mapHubResponse(response, options.artifact, options.hadToken));
    }
    const isFullBody = new Headers(init?.headers).get("range") === null && (init?.method ?? "GET") === "GET";
    if (!isFullBody || !options.onBytes || !response.body) return response;
    const onBytes = options.onBytes;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          onBytes(chunk.byteLength);
          controller.enqueue(chunk);
        },
      }),
    );
    const wrapped = new Response(counted, { status: response.status, headers: response.headers });
    Object.defineProperty(wrapped, "url", { value: response.url });
    return wrapped;
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
      return "timed out";
    default:
      return code ? code.toLowerCase() : "network error";
  }
}
