import type { KeyPolicy } from "./keys/key-policy.ts";
import type { RequestScope } from "./middleware/request-scope.ts";
import type { QuotaState } from "./quota/quota-store.ts";

/** Who a request counts against: a key, a signed-in user (a verified token), or - without either - the client's address. */
export interface Principal {
  kind: "key" | "user" | "ip";
  /**
   * The quota bucket: the key's id; for a user `user:` and a hash of the token's issuer and subject (see
   * auth/subject.ts: never the token, never the raw subject); or the client address. Never the key.
   */
  id: string;
  policy: KeyPolicy;
}

/** What the gateway's middleware put on the Hono context, for the handlers after them. */
export interface GatewayVariables {
  /** Set by `requestId()`: the caller's `X-Request-Id` when well-formed, else a fresh UUID. */
  requestId: string;
  /**
   * Set by `apiKeyAuth()`: the id of the key used (file id or SHA-256 prefix), a signed-in user's principal id
   * (`user:<hash>`), or null when anonymous. What logs and metrics name the caller by.
   */
  apiKeyId: string | null;
  /** Set by `apiKeyAuth()`. */
  principal: Principal;
  /** Set by `shapeRequest()`: the request as it goes to inference. */
  shaped: ShapedRequest;
  /** Set by `rateLimit()` when the principal's tokens are metered: counts tokens against its quota. */
  meterTokens: TokenMeter | undefined;
  /** Set by `tagPrincipal()`: the principal as inference sees it (`X-Slm-Principal`), a hash of its id. */
  principalTag: string | undefined;
  /**
   * /v1/responses continuing a stored chain: the root of that chain, the conversation's affinity key (see
   * upstream/affinity-key.ts). Unset otherwise.
   */
  conversationKey?: string;
  /**
   * Set by `requestScope()` on /v1/*, first: the owner of everything the request holds (`defer` a release, `signal`
   * for what it awaits, `hold` for a response that outlives its handler). See middleware/request-scope.ts.
   */
  scope: RequestScope;
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
 * One request's tokens against its key's quota: its worst case (prompt estimate + `max_tokens` x `n`) reserved at
 * admission, whole or not at all, so a burst never serves more than the quota; then settled at the real count, the
 * unused part given back (see quota/token-meter.ts).
 */
export interface TokenMeter {
  /** Admission: takes `tokens` from the window if they fit whole (nothing otherwise); `allowed` says which. */
  admit(tokens: number): Promise<QuotaState>;
  /** The exchange with inference starts: at least `tokens` stay charged until it settles (a top-up, if any). */
  reserve(tokens: number): void;
  /** Whether an exchange started (`reserve` was called): it then settles, however it ends. */
  readonly started: boolean;
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
