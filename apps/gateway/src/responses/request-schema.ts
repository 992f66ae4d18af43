import { ResponseInputItem, ResponseRequest } from "@slm/config";
import * as v from "valibot";

/**
 * POST /v1/responses as the gateway takes it: the shared (stateless) schema inference validates, plus what the
 * gateway's stored responses answer before inference sees the request - `previous_response_id` and input items that
 * refer to a stored item (`{"type":"item_reference","id":...}`, or OpenAI's bare `{"id":...}`). Inference gets the
 * whole conversation as plain items instead (create-response.ts), so its schema keeps refusing both.
 */

const id = v.pipe(v.string(), v.minLength(1, "a non-empty id"), v.maxLength(256, "an id of at most 256 characters"));

/** A stored item by its id. Strict: an object with anything besides `type` and `id` is an item of its own. */
export const ResponseItemReference = v.strictObject({
  type: v.nullish(v.literal("item_reference")),
  id,
});

export const GatewayResponseRequest = v.object({
  ...ResponseRequest.entries,
  input: v.union(
    [
      v.string(),
      v.pipe(
        v.array(
          v.union(
            [ResponseInputItem, ResponseItemReference],
            'a message, "function_call", "function_call_output", "reasoning" or "item_reference" item',
          ),
        ),
        v.minLength(1, "at least one item"),
      ),
    ],
    "a string or an array of input items",
  ),
  previous_response_id: v.nullish(id),
});
