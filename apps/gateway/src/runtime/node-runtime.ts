import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ApiError } from "@slm/config";
import type { Context } from "hono";
import { bodyTimedOut, bodyTooLarge, declaredTooLarge } from "../middleware/body.ts";
import { clientClosed } from "../middleware/request-scope.ts";
import type { GatewayEnv } from "../types.ts";
import type { RuntimeAdapter } from "./runtime.ts";

/**
 * The Node runtime adapter: Node's request and response, read directly from @hono/node-server's bindings (no web
 * stream for the body, no Request object at all): the body with its size limit and read deadline, the client's close
 * (at once when it is already gone: Node emits "close" once, maybe before anyone listened), headers, the socket's
 * address, and a synchronous SHA-256.
 */

type NodeContext = Context<GatewayEnv & { Bindings: { incoming: IncomingMessage; outgoing: ServerResponse } }>;
const node = (c: Context<GatewayEnv>) => (c as unknown as NodeContext).env;

/** The response's connection closed before the response was complete (or the socket is gone). */
function clientGone(incoming: IncomingMessage, outgoing: ServerResponse): boolean {
  if (outgoing.writableFinished) return false;
  return outgoing.destroyed || incoming.socket === null || incoming.socket.destroyed;
}

export function nodeRuntime(): RuntimeAdapter {
  return {
    readBody(c, maxBytes, options = {}) {
      const { incoming, outgoing } = node(c);
      if (declaredTooLarge(incoming.headers["content-length"], maxBytes)) return Promise.reject(bodyTooLarge(maxBytes));
      const { signal, timeoutMs } = options;
      return new Promise<Uint8Array>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const done = () => {
          incoming.off("data", onData);
          incoming.off("end", onEnd);
          incoming.off("error", onGone);
          incoming.off("close", onClose);
          signal?.removeEventListener("abort", onGone);
          clearTimeout(timer);
        };
        const fail = (err: ApiError) => {
          done();
          reject(err);
        };
        const onData = (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return fail(bodyTooLarge(maxBytes));
          chunks.push(chunk);
        };
        const onEnd = () => {
          done();
          resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
        };
        // A client that goes away mid-upload: no "end" will come ("error" is Node's "aborted").
        const onGone = () => fail(clientClosed());
        const onClose = () => {
          if (!incoming.complete) onGone();
        };
        if (signal?.aborted || clientGone(incoming, outgoing) || (incoming.destroyed && !incoming.complete))
          return onGone();
        incoming.on("data", onData);
        incoming.once("end", onEnd);
        incoming.once("error", onGone);
        incoming.once("close", onClose);
        signal?.addEventListener("abort", onGone, { once: true });
        if (timeoutMs !== undefined && timeoutMs > 0)
          timer = setTimeout(() => fail(bodyTimedOut(timeoutMs)), timeoutMs);
      });
    },
    onClientClose(c, listener) {
      const { incoming, outgoing } = node(c);
      // Gone already (it left while the request was queued, read or awaited): no "close" event will come again.
      if (clientGone(incoming, outgoing)) {
        listener();
        return () => {};
      }
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
