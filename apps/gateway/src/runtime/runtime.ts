import type { Context } from "hono";
import type { BodyReadOptions } from "../middleware/body.ts";
import type { GatewayEnv } from "../types.ts";

/**
 * What the core needs from the server it runs in, beyond web standards. Every hook has a web-standard default;
 * node-runtime.ts supplies faster ones that read Node's request directly (the request body without a web stream, the
 * socket's address, the response's close event), deno.ts the connection info Deno.serve passes along.
 */
/** Reads one request header by its lowercase name. */
export type HeaderReader = (c: Context<GatewayEnv>, name: string) => string | undefined;

export interface RuntimeAdapter {
  /** A request header (lowercase name). Default: `c.req.header()`, which builds a Headers object of all of them. */
  header?: HeaderReader;
  /**
   * The raw request body, at most `maxBytes` (throw `bodyTooLarge(maxBytes)` beyond), within `options.timeoutMs`
   * (`bodyTimedOut`), stopping with `clientClosed()` when `options.signal` aborts or the client is gone.
   */
  readBody?(c: Context<GatewayEnv>, maxBytes: number, options?: BodyReadOptions): Promise<Uint8Array>;
  /**
   * Calls `listener` when the client goes away before the response is complete - at once when it already has (a
   * close that happened before anyone listened must not be missed); returns an unsubscribe.
   */
  onClientClose?(c: Context<GatewayEnv>, listener: () => void): () => void;
  /** The peer address of the connection. */
  remoteAddress?(c: Context<GatewayEnv>): string | undefined;
  /** Lowercase hex SHA-256 of a presented key. Default: crypto.subtle (asynchronous; Node runs it on its thread pool). */
  sha256Hex?(text: string): string | Promise<string>;
}
