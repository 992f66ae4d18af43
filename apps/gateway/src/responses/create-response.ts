import type { MiddlewareHandler } from "hono";
import { silentLogger, type Logger } from "../logger.ts";
import type { GatewayEnv, JsonObject } from "../types.ts";
import { chainBroken, chainTooLong, previousResponseNotFound } from "./errors.ts";
import { conversationOf, normalizeInput, outputItems, referencedIds, resolveReferences } from "./expand.ts";
import { ownerOf } from "./owner.ts";
import { readStore } from "./read-store.ts";
import { rewriteResponseEvents } from "./response-events.ts";
import type { StoredResponse, StoredResponses } from "./stored-responses.ts";

/**
 * POST /v1/responses with stored responses, between shaping (the request validated against request-schema.ts) and
 * token admission (which then estimates the whole conversation):
 *
 * - before inference: `previous_response_id` loads its chain (404 `previous_response_not_found` when it is not the
 *   caller's; 400 `conversation_too_long` past GATEWAY_RESPONSES_MAX_CHAIN), references to stored items are replaced
 *   by the items (404 `item_not_found`), and inference gets the whole conversation as plain items, without `store` and
 *   `previous_response_id` (it is stateless and refuses the latter). `conversationKey` is set to the conversation's
 *   first response, for the replica choice.
 * - after: a response that ended (`completed` or `incomplete`) is stored unless `store: false` - a JSON answer before
 *   it is answered, a stream as its `response.completed` event passes (the stream ends once it is written) - with its
 *   input items expanded and ids given to those without one. Every answer says its `store` and
 *   `previous_response_id`. A response beyond GATEWAY_RESPONSES_MAX_BYTES is answered with `store: false`; a failed
 *   write is logged (never a value) and answered likewise when it can still be.
 *
 * Response ids are inference's (`resp_` + a random UUID: unique across replicas and gateways, see ids.ts).
 */

export interface CreateResponseOptions {
  responses: StoredResponses;
  /** GATEWAY_RESPONSES_MAX_CHAIN: the most responses a chain of previous_response_id may hold, the new one included. */
  maxChain: number;
  /** False: nothing is stored (GATEWAY_RESPONSES_TTL_S=0); answers say `store: false`. */
  enabled: boolean;
  logger?: Logger;
}

/** The statuses of a response that ended and is stored. */
const FINAL = new Set(["completed", "incomplete"]);

function parseObject(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}

export function createResponse(options: CreateResponseOptions): MiddlewareHandler<GatewayEnv> {
  const { responses, maxChain } = options;
  const logger = options.logger ?? silentLogger;

  return async function createResponse(c, next) {
    const shaped = c.get("shaped");
    const json = shaped.json;
    const previousId = typeof json["previous_response_id"] === "string" ? json["previous_response_id"] : undefined;
    const store = options.enabled && json["store"] !== false;
    const input = normalizeInput(json["input"]);
    const references = referencedIds(input);

    let history: JsonObject[] = [];
    let chain: string[] = [];
    let root: string | undefined;
    let expanded = input;
    const owner = store || previousId !== undefined || references.length > 0 ? await ownerOf(c.get("principal")) : "";
    if (previousId !== undefined) {
      const previous = await readStore(responses.get(owner, previousId));
      if (previous === undefined) throw previousResponseNotFound(previousId);
      if (previous.chain.length + 2 > maxChain) throw chainTooLong(maxChain);
      const earlier = previous.chain.length > 0 ? await readStore(responses.getMany(owner, previous.chain)) : [];
      if (earlier.some((record) => record === undefined)) throw chainBroken();
      history = conversationOf([...(earlier as StoredResponse[]), previous]);
      chain = [...previous.chain, previous.id];
      root = previous.root;
    }
    if (references.length > 0) {
      const found = await readStore(responses.items(owner, references));
      const items = new Map<string, JsonObject>();
      found.forEach((stored, i) => {
        if (stored !== undefined) items.set(references[i]!, stored.item);
      });
      expanded = resolveReferences(input, items);
      root ??= found[0]?.root;
    }
    c.get("scope").throwIfGone();
    if (root !== undefined) c.set("conversationKey", root);

    // What inference gets: plain items, nothing of the store. A request with nothing to change goes byte for byte.
    if ("store" in json || "previous_response_id" in json || references.length > 0) {
      const body: JsonObject = { ...json };
      delete body["store"];
      delete body["previous_response_id"];
      if (previousId !== undefined || references.length > 0) body["input"] = [...history, ...expanded];
      c.set("shaped", { ...shaped, json: body, body: JSON.stringify(body) });
    }

    await next();

    const res = c.res;
    if (res.status !== 200 || res.body === null || (!store && previousId === undefined)) return;
    const requestId = c.get("requestId");
    // Items this response stores for item_reference: its own input items (not those it referred to), its output.
    const ownItems = input.filter((item) => item["type"] !== "item_reference").map((item) => item["id"] as string);

    /** The answer as the client gets it; for an ended response to store, its record's write (undefined: none). */
    function answer(response: JsonObject, ended: boolean): Promise<void> | undefined {
      response["store"] = store;
      response["previous_response_id"] = previousId ?? null;
      const id = response["id"];
      if (!store || !ended) return undefined;
      if (!FINAL.has(response["status"] as string)) {
        response["store"] = false; // failed: nothing to continue
        return undefined;
      }
      if (typeof id !== "string" || id === "" || id.length > 256) {
        response["store"] = false;
        return undefined;
      }
      const output = outputItems(response).flatMap((item) => (typeof item["id"] === "string" ? [item["id"]] : []));
      const record: StoredResponse = {
        v: 1,
        id,
        root: root ?? id,
        chain,
        response,
        input: expanded,
        items: [...ownItems, ...output],
      };
      const saved = responses.save(owner, record);
      if (!saved.stored) {
        response["store"] = false;
        logger.info("response not stored: larger than GATEWAY_RESPONSES_MAX_BYTES", {
          requestId,
          bytes: saved.bytes,
          maxBytes: responses.maxBytes,
        });
        return undefined;
      }
      return saved.written;
    }
    const failed = (err: unknown) => logger.warn("response could not be stored", { requestId, err });

    const type = res.headers.get("content-type")?.toLowerCase() ?? "";
    if (type.startsWith("text/event-stream")) {
      let written: Promise<void> | undefined;
      const body = rewriteResponseEvents(res.body, {
        rewrite(event, response) {
          const ended =
            event === "response.completed" || event === "response.incomplete" || event === "response.failed";
          const write = answer(response, ended);
          if (write) written = write.catch(failed);
          return response;
        },
        beforeEnd: () => written ?? Promise.resolve(),
      });
      c.res = new Response(body, { status: res.status, headers: res.headers });
      return;
    }
    if (!type.startsWith("application/json")) return;
    const text = await res.text();
    const response = parseObject(text);
    if (response?.["object"] !== "response") {
      c.res = new Response(text, { status: res.status, headers: res.headers });
      return;
    }
    const write = answer(response, true);
    if (write) {
      try {
        await write;
      } catch (err) {
        failed(err);
        response["store"] = false;
      }
    }
    c.res = new Response(JSON.stringify(response), { status: res.status, headers: res.headers });
  };
}
