import type { KeyPolicy } from "./keys/key-policy.ts";

/** Who a request counts against: a key, or - without one - the client's address. */
export interface Principal {
  kind: "key" | "ip";
  /** The key's id, or the client address (quota bucket; never the key). */
  id: string;
  policy: KeyPolicy;
}

/** What the gateway's middleware put on the Hono context, for the handlers after them. */
export interface GatewayVariables {
  /** Set by `requestId()`: the caller's `X-Request-Id` when well-formed, else a fresh UUID. */
  requestId: string;
  /** Set by `apiKeyAuth()`: the id of the key used (file id or SHA-256 prefix), or null when anonymous. */
  apiKeyId: string | null;
  /** Set by `apiKeyAuth()`. */
  principal: Principal;
  /** Set by `shapeRequest()`: the request as it goes to inference. */
  shaped: ShapedRequest;
  /** Set by `rateLimit()` when the principal's tokens are metered: counts tokens against its quota. */
  meterTokens: TokenMeter | undefined;
  /** Set by `streamSlots()` for a streamed request: frees its concurrent-stream slot (idempotent). */
  releaseStream: (() => void) | undefined;
  /** Headers every response to this request carries (see response-headers.ts). */
  responseHeaders: Record<string, string>;
  /** Whether the response was built with `responseHeaders` already merged in. */
  headersApplied: boolean;
}

export interface GatewayEnv {
  Variables: GatewayVariables;
}

/** What the gateway sends to inference. */
export interface UpstreamInit {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  redirect: "manual";
}

/** The part of a fetch `Response` the gateway reads, so that Node's transport can answer with a lighter object. */
export interface UpstreamResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}

/** The subset of `fetch` the gateway uses; injectable (tests stand in for inference; Node has its own transport). */
export type Fetch = (url: string, init: UpstreamInit) => Promise<UpstreamResponse>;

/**
 * One request's tokens against its key's quota: an estimate reserved before the request is sent (so a client that
 * leaves is charged at least that), then settled at the real count, charging or giving back the difference.
 */
export interface TokenMeter {
  reserve(tokens: number): void;
  /** The final count for the request (idempotent: only the first call counts). */
  settle(total: number): void;
}

export type JsonObject = Record<string, unknown>;

export interface ShapedRequest {
  /** The JSON text inference receives. */
  body: string;
  /** The shaped request, as sent. */
  json: JsonObject;
  model: string;
  stream: boolean;
  /** The gateway turned on `stream_options.include_usage`: the usage chunk is metered, then removed. */
  stripUsage: boolean;
}
