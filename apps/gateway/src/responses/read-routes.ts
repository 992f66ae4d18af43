import type { Handler } from "hono";
import type { GatewayEnv, JsonObject } from "../types.ts";
import { invalidQuery, responseNotFound } from "./errors.ts";
import { ownerOf } from "./owner.ts";
import { readStore } from "./read-store.ts";
import type { StoredResponse, StoredResponses } from "./stored-responses.ts";

/**
 * The stored responses' own routes, behind /v1's authentication and quotas like the rest of the API, each answering
 * for the caller's responses only (someone else's is a 404 like an unknown id):
 *
 * - GET /v1/responses/{id}: the Response object as it was answered.
 * - GET /v1/responses/{id}/input_items: its input items (references expanded), OpenAI's list:
 *   `{object:"list", data, first_id, last_id, has_more}`, `limit` 1-100 (20), `order` asc|desc (desc), `after` an
 *   item id (the page after it).
 * - DELETE /v1/responses/{id}: `{id, object:"response", deleted:true}`; the response and the items it stored go.
 */

export interface ReadRoutesOptions {
  responses: StoredResponses;
}

export interface ReadRoutes {
  retrieve: Handler<GatewayEnv>;
  inputItems: Handler<GatewayEnv>;
  remove: Handler<GatewayEnv>;
}

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;

export function readRoutes(options: ReadRoutesOptions): ReadRoutes {
  const { responses } = options;

  async function find(owner: string, id: string): Promise<StoredResponse> {
    const record = await readStore(responses.get(owner, id));
    if (record === undefined) throw responseNotFound(id);
    return record;
  }

  return {
    async retrieve(c) {
      if (c.req.query("stream") === "true") throw invalidQuery("stream", "a stored response is not streamed again");
      const record = await find(await ownerOf(c.get("principal")), c.req.param("id") ?? "");
      return c.json(record.response);
    },

    async inputItems(c) {
      const limitText = c.req.query("limit");
      const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
      if (!/^\d{1,3}$/.test(limitText ?? "20") || limit < 1 || limit > MAX_LIMIT)
        throw invalidQuery("limit", `an integer from 1 to ${MAX_LIMIT}`);
      const order = c.req.query("order") ?? "desc";
      if (order !== "asc" && order !== "desc") throw invalidQuery("order", '"asc" or "desc"');
      const record = await find(await ownerOf(c.get("principal")), c.req.param("id") ?? "");
      let items: JsonObject[] = order === "asc" ? [...record.input] : [...record.input].reverse();
      const after = c.req.query("after");
      if (after !== undefined) {
        const at = items.findIndex((item) => item["id"] === after);
        if (at < 0) throw invalidQuery("after", "the id of an input item of this response");
        items = items.slice(at + 1);
      }
      const data = items.slice(0, limit);
      return c.json({
        object: "list",
        data,
        first_id: (data[0]?.["id"] as string | undefined) ?? null,
        last_id: (data.at(-1)?.["id"] as string | undefined) ?? null,
        has_more: items.length > limit,
      });
    },

    async remove(c) {
      const id = c.req.param("id") ?? "";
      const deleted = await readStore(responses.delete(await ownerOf(c.get("principal")), id));
      if (!deleted) throw responseNotFound(id);
      return c.json({ id, object: "response", deleted: true });
    },
  };
}
