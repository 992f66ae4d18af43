import { ApiError, SafeError } from "@slm/config";
import type { CancelReason } from "../metrics.ts";

export interface RequestSignal {
  /** Aborts on the first of: client gone, deadline passed, shutdown grace over. */
  signal: AbortSignal;
  /** Why it aborted, once it has. */
  readonly reason: CancelReason | undefined;
  /** Ends the request from our side (e.g. the response stream was cancelled by the client). */
  abort(reason: CancelReason): void;
  dispose(): void;
}

export interface RequestSignalOptions {
  client: AbortSignal;
  timeoutMs: number;
  shutdown: AbortSignal;
}

/** One signal per request, remembering which source fired so metrics and the error can say why. */
export function requestSignal(options: RequestSignalOptions): RequestSignal {
  const controller = new AbortController();
  let reason: CancelReason | undefined;
  const abort = (why: CancelReason) => {
    if (reason) return;
    reason = why;
    controller.abort(new RequestEndedError(why));
  };
  const onClient = () => abort("client_closed");
  const onShutdown = () => abort("shutdown");
  const timer = setTimeout(() => abort("deadline"), options.timeoutMs);
  timer.unref();
  if (options.client.aborted) onClient();
  else options.client.addEventListener("abort", onClient, { once: true });
  if (options.shutdown.aborted) onShutdown();
  else options.shutdown.addEventListener("abort", onShutdown, { once: true });
  return {
    signal: controller.signal,
    get reason() {
      return reason;
    },
    abort,
    dispose: () => {
      clearTimeout(timer);
      options.client.removeEventListener("abort", onClient);
      options.shutdown.removeEventListener("abort", onShutdown);
    },
  };
}

/** The code a request that ended early is known by: its answer's, when it gets one (see `endedRequestError`). */
const ENDED_CODES = {
  deadline: "request_timeout",
  shutdown: "shutting_down",
  client_closed: "client_closed",
} as const satisfies Record<CancelReason, string>;

/** The abort reason of a request signal. */
export class RequestEndedError extends SafeError {
  override readonly name = "RequestEndedError";
  readonly code: string;
  constructor(readonly reason: CancelReason) {
    super(`request ended: ${reason}`);
    this.code = ENDED_CODES[reason];
  }
}

/** The answer for a request that ended early, or undefined when nobody is left to answer (client gone). */
export function endedRequestError(reason: CancelReason, timeoutMs: number): ApiError | undefined {
  if (reason === "deadline") {
    return new ApiError(
      504,
      "server_error",
      ENDED_CODES.deadline,
      `The request did not finish within ${Math.round(timeoutMs / 1000)} s.`,
    );
  }
  if (reason === "shutdown") return shuttingDown();
  return undefined;
}

export function shuttingDown(): ApiError {
  return new ApiError(
    503,
    "service_unavailable",
    "shutting_down",
    "The server is shutting down; retry shortly.",
    null,
    {
      "retry-after": "1",
    },
  );
}
