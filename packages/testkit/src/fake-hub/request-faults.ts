import type { ServerResponse } from "node:http";
import { sendRateLimited, sendServerError, sendStorageError } from "./errors.ts";
import type { FaultContext } from "./faults.ts";
import type { HubState } from "./state.ts";

/**
 * Fires `rateLimit`, `serverError` or `cdnError` faults for a request, sending the error reply: the Hub's shape on
 * the Hub origin, the storage's (XML, no Hub headers) on the CDN and the bridge.
 * Returns true when the request was answered that way.
 */
export function replyWithRequestFault(state: HubState, res: ServerResponse, ctx: FaultContext): boolean {
  const storage = ctx.where === "cdn" || ctx.where === "bridge";
  const rateLimit = state.faults.take("rateLimit", ctx);
  if (rateLimit) {
    const seconds = rateLimit.retryAfterSeconds ?? 1;
    if (storage) sendStorageError(res, 429, rateLimit.retryAfterHeader ? seconds : undefined);
    else sendRateLimited(res, seconds, ctx.where === "api" ? "api" : "resolvers", rateLimit.retryAfterHeader);
    return true;
  }
  const serverError = state.faults.take("serverError", ctx);
  if (serverError) {
    if (storage) sendStorageError(res, serverError.status ?? 500, serverError.retryAfterSeconds);
    else sendServerError(res, serverError.status ?? 500, serverError.retryAfterSeconds);
    return true;
  }
  const cdnError = state.faults.take("cdnError", ctx);
  if (cdnError) {
    sendStorageError(res, cdnError.status ?? 403);
    return true;
  }
  return false;
}
