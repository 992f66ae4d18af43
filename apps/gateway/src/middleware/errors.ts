import { ApiError } from "@slm/config";
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "../logger.ts";
import { QuotaStoreUnavailableError } from "../quota/quota-store.ts";
import { storeUnavailable } from "../quota/rate-limit.ts";
import type { GatewayEnv } from "../types.ts";
import { withResponseHeaders } from "./response-headers.ts";

/** Every error leaves the gateway as an OpenAI error envelope; the real error stays in the server log. */

export function apiErrorResponse(c: Context<GatewayEnv>, err: ApiError): Response {
  const headers = withResponseHeaders(c, { "content-type": "application/json" });
  // The error's own headers (Retry-After, the RateLimit fields of the quota that refused) win.
  Object.assign(headers, err.headers);
  return new Response(JSON.stringify(err.toJSON()), { status: err.status, headers });
}

export interface ErrorHandlerOptions {
  logger: Logger;
}

export function onError(options: ErrorHandlerOptions): ErrorHandler<GatewayEnv> {
  const { logger } = options;
  return function onError(err, c) {
    const requestId = c.get("requestId");
    if (err instanceof ApiError) {
      const log = err.status >= 500 ? logger.warn : logger.debug;
      log("request failed", { requestId, status: err.status, code: err.code });
      return apiErrorResponse(c, err);
    }
    if (err instanceof QuotaStoreUnavailableError) {
      // Failing closed (GATEWAY_REDIS_FAILURE=closed) is a 503 wherever the store was asked, never a 500.
      logger.warn("request failed", { requestId, status: 503, code: "rate_limiter_unavailable" });
      return apiErrorResponse(c, storeUnavailable());
    }
    if (err instanceof HTTPException && err.status < 500) {
      // Hono's own 4xx (from its middleware). Its message is ours or Hono's, but a generic one is enough.
      logger.debug("request rejected", { requestId, status: err.status, err });
      return apiErrorResponse(c, new ApiError(err.status, "invalid_request_error", "invalid_request", "Bad request."));
    }
    logger.error("unhandled error", { requestId, err });
    return apiErrorResponse(
      c,
      new ApiError(500, "server_error", "internal_error", "The gateway failed to handle the request."),
    );
  };
}

export function notFound(): NotFoundHandler<GatewayEnv> {
  return function notFound(c) {
    return apiErrorResponse(c, new ApiError(404, "invalid_request_error", "unknown_url", "Unknown request URL."));
  };
}
