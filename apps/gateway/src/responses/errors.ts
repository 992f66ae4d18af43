import { ApiError } from "@slm/config";

/**
 * The answers of the stored responses, in OpenAI's error envelope with OpenAI's wording and a stable code. A response
 * or item of someone else is answered exactly as one that does not exist. An id is quoted back only when it has the
 * shape of one (letters, digits, `_` and `-`): anything else the caller wrote is not echoed.
 */

const quoted = (id: string) => (/^[\w-]{1,128}$/.test(id) ? ` with id '${id}'` : "");

/** `previous_response_id` names no response of the caller's (unknown, expired, deleted, or someone else's). */
export function previousResponseNotFound(id: string): ApiError {
  return new ApiError(
    404,
    "invalid_request_error",
    "previous_response_not_found",
    `Previous response${quoted(id)} not found.`,
    "previous_response_id",
  );
}

/** A response of the chain `previous_response_id` continues is gone (expired, evicted or deleted). */
export function chainBroken(): ApiError {
  return new ApiError(
    404,
    "invalid_request_error",
    "previous_response_not_found",
    "An earlier response of this conversation no longer exists (expired or deleted); send the conversation in input.",
    "previous_response_id",
  );
}

/** An `item_reference` (or `{"id": ...}`) input item names no stored item of the caller's. */
export function itemNotFound(id: string): ApiError {
  return new ApiError(
    404,
    "invalid_request_error",
    "item_not_found",
    `Item${quoted(id)} not found. Items are stored only for responses created with store: true; send the item itself instead.`,
    "input",
  );
}

/** GET/DELETE /v1/responses/{id} of a response the caller does not have. */
export function responseNotFound(id: string): ApiError {
  return new ApiError(404, "invalid_request_error", "response_not_found", `Response${quoted(id)} not found.`, null);
}

/** A chain of `previous_response_id` beyond GATEWAY_RESPONSES_MAX_CHAIN responses. */
export function chainTooLong(maxChain: number): ApiError {
  return new ApiError(
    400,
    "invalid_request_error",
    "conversation_too_long",
    `A conversation may chain at most ${maxChain} responses through previous_response_id; start a new one ` +
      "with the conversation in input.",
    "previous_response_id",
  );
}

/** The store (Redis) cannot be reached for a request that needs to read it. */
export function storeUnavailable(): ApiError {
  return new ApiError(
    503,
    "service_unavailable",
    "response_store_unavailable",
    "Stored responses are unavailable right now; retry shortly.",
    null,
    { "Retry-After": "1" },
  );
}

/** A query parameter of a list (limit, order, after) out of its range. */
export function invalidQuery(param: string, expected: string): ApiError {
  return new ApiError(400, "invalid_request_error", "invalid_request", `Invalid request: ${param}: ${expected}`, param);
}
