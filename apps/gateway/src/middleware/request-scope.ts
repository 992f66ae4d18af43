import { ApiError } from "@slm/config";
import type { Context, MiddlewareHandler } from "hono";
import type { Logger } from "../logger.ts";
import type { GatewayEnv } from "../types.ts";

/**
 * One owner per request for everything it holds. Registered first on /v1/*, before anything awaits, it subscribes to
 * the client's close at once (and fires at once when the client is already gone), and ends the request exactly once:
 * when the handler is done (a JSON answer, an error), when a held response ends (a stream), or when the client goes -
 * whatever the request was awaiting then (Redis, the model list, inference). At the end, every release registered
 * with `defer` runs, once, last registered first.
 *
 * For middleware and handlers (`const scope = c.get("scope")`):
 *
 * - `scope.signal`: aborted when the client goes before its response is complete. Pass it to whatever the request
 *   waits for (the forwarder's deadline starts from it: a request whose client left is never forwarded, and one
 *   already forwarded is aborted, which closes its upstream connection so that inference stops generating).
 * - `scope.defer(release)`: runs `release` exactly once when the request ends - at once when it already has (so a
 *   slot acquired while the client was leaving is given back at once). Returns a function that runs it now instead
 *   (idempotent), for a release that may come earlier. Take first, then defer, with no await in between.
 * - `scope.hold()`: the response outlives the handler (a stream): the request ends when the returned function is
 *   called (the stream ended) or when the client goes, not when the handler returns.
 * - `scope.throwIfGone()`: after an await, stops a request whose client has left (499, never sent: nobody reads it).
 * - `scope.clientGone`, `scope.ended`: what happened so far.
 *
 * Releases must not throw (one that does is logged and the others still run) and should not await: what they give
 * back must be given back now, not after another round trip.
 */

export interface RequestScope {
  /** Aborted when the client goes before its response is complete. */
  readonly signal: AbortSignal;
  /** The client went before its response was complete. */
  readonly clientGone: boolean;
  /** The request has ended: its releases have run (or run as they are deferred). */
  readonly ended: boolean;
  /** Runs `release` once when the request ends (at once if it has); returns a function that runs it now. */
  defer(release: () => void): () => void;
  /** Keeps the request open past its handler until the returned function is called (or the client goes). */
  hold(): () => void;
  /** Throws the 499 `client_closed_request` when the client has gone. */
  throwIfGone(): void;
}

/** Calls `listener` when the client goes before the response is complete (at once if it already has); unsubscribes. */
export type ClientCloseHook = (c: Context<GatewayEnv>, listener: () => void) => () => void;

export interface RequestScopeOptions {
  /** The runtime's client-close hook (see runtime.ts); default: the request's abort signal. */
  onClientClose?: ClientCloseHook;
  logger?: Logger;
}

export const clientClosed = (): ApiError =>
  new ApiError(499, "invalid_request_error", "client_closed_request", "The client closed the request.");

/** The web-standard client-close hook: the request's abort signal (Deno.serve, app.request; read when subscribing). */
export const onRequestAbort: ClientCloseHook = (c, listener) => {
  const signal = c.req.raw.signal;
  if (signal.aborted) {
    listener();
    return () => {};
  }
  signal.addEventListener("abort", listener, { once: true });
  return () => signal.removeEventListener("abort", listener);
};

class Scope implements RequestScope {
  clientGone = false;
  ended = false;
  #controller: AbortController | undefined;
  #releases: Array<() => void> = [];
  #holds = 0;
  #handlerDone = false;
  #unsubscribe: (() => void) | undefined;
  #logger: Logger | undefined;

  constructor(logger: Logger | undefined) {
    this.#logger = logger;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.clientGone) this.#controller.abort(goneReason());
    }
    return this.#controller.signal;
  }

  subscribe(unsubscribe: () => void): void {
    if (this.ended) unsubscribe();
    else this.#unsubscribe = unsubscribe;
  }

  defer(release: () => void): () => void {
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      const i = this.#releases.indexOf(once);
      if (i >= 0) this.#releases.splice(i, 1);
      this.#run(release);
    };
    if (this.ended) once();
    else this.#releases.push(once);
    return once;
  }

  hold(): () => void {
    if (this.ended) return () => {};
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      if (this.#handlerDone && this.#holds === 0) this.end();
    };
  }

  throwIfGone(): void {
    if (this.clientGone) throw clientClosed();
  }

  /** The client went: abort what the request waits for, then end it. */
  clientLeft = (): void => {
    if (this.clientGone || this.ended) return;
    this.clientGone = true;
    this.#controller?.abort(goneReason());
    this.end();
  };

  handlerReturned(): void {
    this.#handlerDone = true;
    if (this.#holds === 0) this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    // Last taken, first given back; each exactly once (a release may run another early: it leaves the list).
    while (this.#releases.length > 0) this.#releases.pop()!();
  }

  #run(release: () => void): void {
    try {
      release();
    } catch (err) {
      this.#logger?.error("a request's release failed", { err });
    }
  }
}

function goneReason(): DOMException {
  return new DOMException("client closed the request", "AbortError");
}

export function requestScope(options: RequestScopeOptions = {}): MiddlewareHandler<GatewayEnv> {
  const onClientClose = options.onClientClose ?? onRequestAbort;
  return async function requestScope(c, next) {
    const scope = new Scope(options.logger);
    c.set("scope", scope);
    scope.subscribe(onClientClose(c, scope.clientLeft));
    try {
      await next();
    } finally {
      scope.handlerReturned();
    }
  };
}
