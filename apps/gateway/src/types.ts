import type { ShapedChatRequest } from "./shape.ts";

/** What the gateway's middleware put on the Hono context, for the handlers after them. */
export interface GatewayVariables {
  /** Set by `requestId()`: the caller's `X-Request-Id` when well-formed, else a fresh UUID. */
  requestId: string;
  /** Set by `apiKeyAuth()`: a short, non-secret id of the key used (a SHA-256 prefix), or null when anonymous. */
  apiKeyId: string | null;
  /** Set by `chatRequest()`: the validated request and the JSON body to forward. */
  chatRequest: ShapedChatRequest;
}

export interface GatewayEnv {
  Variables: GatewayVariables;
}

/** The subset of `fetch` the gateway uses; injectable so tests can stand in for the inference service. */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;
