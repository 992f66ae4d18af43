import type { Context } from "hono";
import { ApiError, errorEnvelope } from "@slm/config";
import { PoolClosedError, QueueFullError } from "../engine/index.ts";
import type { Logger } from "../logger.ts";
import { shuttingDown } from "./request-signal.ts";

/**
 * Every failure leaves as the OpenAI error envelope; anything unexpected is logged and answered as a bare 500.
 * A full queue is a 429 whose Retry-After comes from the queue depth and the measured service time.
 */
export function toApiError(error: unknown, retryAfterSeconds: () => number = () => 1): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof QueueFullError) {
    return new ApiError(429, "rate_limit_error", error.code, "The server is busy; retry later.", null, {
      "retry-after": String(retryAfterSeconds()),
    });
  }
  if (error instanceof PoolClosedError) return shuttingDown();
  return undefined;
}

export function errorResponse(c: Context, error: ApiError): Response {
  return c.json(error.toJSON(), error.status as 400, error.headers);
}

export function internalError(c: Context, error: unknown, log: Logger): Response {
  log.error({ err: error, requestId: c.get("requestId") as unknown }, "unhandled error");
  return c.json(errorEnvelope("server_error", "Internal server error.", { code: "internal_error" }), 500);
}
