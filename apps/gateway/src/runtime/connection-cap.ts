import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import { ApiError } from "@slm/config";
import type { Logger } from "../logger.ts";
import { addressBucket } from "../middleware/client-ip.ts";

/**
 * Open connections per client address (GATEWAY_MAX_CONNECTIONS_PER_IP), for the Node server: one client cannot hold
 * the server's sockets (and its file descriptors) however many connections it opens. Counted per TCP peer, IPv6 by
 * its /64 (as quotas are). A connection beyond the cap is not served: its first request gets 429
 * `too_many_connections` naming the limit, with `Connection: close`, and a connection that sends nothing is closed
 * after `graceMs`. Behind a reverse proxy every connection comes from the proxy: the cap belongs there (unset, the
 * variable means no cap when GATEWAY_TRUST_PROXY_HOPS > 0).
 */

export interface ConnectionCapOptions {
  /** Connections per address; 0: no cap. */
  maxPerAddress: number;
  /** How long a refused connection may stay open waiting for a request to answer. Default 2 s. */
  graceMs?: number;
  logger?: Logger;
}

export interface ConnectionCap {
  /** The refusal to send instead of serving, when the request came on a connection over the cap. */
  refusal(incoming: IncomingMessage): Response | undefined;
  /** Connections counted now, by address bucket (tests). */
  readonly open: ReadonlyMap<string, number>;
}

const OVER = Symbol("over the per-address connection cap");
type Marked = Socket & { [OVER]?: true };

export function tooManyConnections(limit: number): ApiError {
  return new ApiError(
    429,
    "rate_limit_error",
    "too_many_connections",
    `Too many open connections from this address: the limit is ${limit}. Reuse connections or close some.`,
    null,
    { "Retry-After": "1", Connection: "close" },
  );
}

/** Counts connections on `server` per address and marks those over the cap (a no-op cap when the limit is 0). */
export function capConnectionsPerAddress(server: Server, options: ConnectionCapOptions): ConnectionCap {
  const max = options.maxPerAddress;
  const graceMs = options.graceMs ?? 2_000;
  const open = new Map<string, number>();
  let lastWarning = 0;
  if (max > 0) {
    server.on("connection", (socket: Marked) => {
      const bucket = addressBucket(socket.remoteAddress ?? "unknown");
      const count = (open.get(bucket) ?? 0) + 1;
      if (count > max) {
        socket[OVER] = true;
        const timer = setTimeout(() => socket.destroy(), graceMs);
        timer.unref();
        socket.once("close", () => clearTimeout(timer));
        if (Date.now() - lastWarning > 10_000) {
          lastWarning = Date.now();
          options.logger?.warn("connections refused: an address is at its connection cap", { limit: max });
        }
        return;
      }
      open.set(bucket, count);
      socket.once("close", () => {
        const left = (open.get(bucket) ?? 1) - 1;
        if (left <= 0) open.delete(bucket);
        else open.set(bucket, left);
      });
    });
  }
  return {
    open,
    refusal(incoming) {
      if ((incoming.socket as Marked | null)?.[OVER] !== true) return undefined;
      const error = tooManyConnections(max);
      return new Response(JSON.stringify(error.toJSON()), {
        status: error.status,
        headers: { "content-type": "application/json", ...error.headers },
      });
    },
  };
}
