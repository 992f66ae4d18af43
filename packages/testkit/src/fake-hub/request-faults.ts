import type { ServerResponse } from "node:http";
import { sendRateLimited, sendServerError } from "./errors.ts";
import type { FaultContext } from "./faults.ts";
import type { HubState } from "./state.ts";

/**
 * Fires `rateLimit` or `serverError` faults for a request, sending the error reply.
 * Returns true when the request was answered that way.
 */
export function replyWithRequestFault(state: HubState, res: ServerResponse, ctx: FaultContext): boolean {
  const rateLimit = state.faults.take("rateLimit", ctx);
  if (rateLimit) {
    sendRateLimited(res, rateLimit.retryAfterSeconds ?? 1, ctx.where === "api" ? "api" : "resolvers");
    return true;
  }
  const serverError = state.faults.take("serverError", ctx);
  if (serverError) {
    sendServerError(res, serverError.status ?? 500, serverError.retryAfterSeconds);
    return true;
  }
  return false;
}
