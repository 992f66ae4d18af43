import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError } from "@slm/config";
import type { Context } from "hono";
import { bodyTooLarge, declaredTooLarge } from "../middleware/body.ts";
import type { GatewayEnv } from "../types.ts";
import type { RuntimeAdapter } from "./runtime.ts";

/**
 * The Node runtime adapter: Node's request and response, read directly from @hono/node-server's bindings (no web
 * stream for the body, no Request object at all): the body with its size limit, the response's close event, headers,
 * the socket's address, and a synchronous SHA-256.
 */

type NodeContext = Context<GatewayEnv & { Bindings: { incoming: IncomingMessage; outgoing: ServerResponse } }>;
const node = (c: Context<GatewayEnv>) => (c as unknown as NodeContext).env;

export function nodeRuntime(): RuntimeAdapter {
  return {
    readBody(c, maxBytes) {
      const incoming = node(c).incoming;
      if (declaredTooLarge(incoming.headers["content-length"], maxBytes)) return Promise.reject(bodyTooLarge(maxBytes));
      return new Promise<Uint8Array>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const onData = (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            incoming.off("data", onData);
            reject(bodyTooLarge(maxBytes));
            return;
          }
          chunks.push(chunk);
        };
        incoming.on("data", onData);
        incoming.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
        incoming.once("error", reject);
        // A client that goes away mid-upload: no "end" will come.
        incoming.once("close", () => {
          if (!incoming.complete)
            reject(
              new ApiError(499, "invalid_request_error", "client_closed_request", "The client closed the request."),
            );
        });
      });
    },
    onClientClose(c, listener) {
      const outgoing = node(c).outgoing;
      const onClose = () => {
        if (!outgoing.writableFinished) listener();
      };
      outgoing.once("close", onClose);
      return () => outgoing.off("close", onClose);
    },
    header(c, name) {
      const value = node(c).incoming.headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    remoteAddress: (c) => node(c).incoming.socket.remoteAddress,
    sha256Hex: (text) => createHash("sha256").update(text).digest("hex"),
  };
}
