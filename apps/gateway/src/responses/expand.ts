import type { JsonObject } from "../types.ts";
import { itemNotFound } from "./errors.ts";
import { itemIdPrefix, newId } from "./ids.ts";

/**
 * The expansion of a request's input into what inference gets and what is stored: pure functions, the stored
 * responses' reading and writing being stored-responses.ts's. A request's input becomes items (a string one user
 * message, a message's string content a text part), each with an id (given or new); references to stored items are
 * replaced by those items; a chain of responses (previous_response_id) becomes its conversation, oldest first: each
 * response's input items, then its output items.
 */

/** The id a reference item names (`{"type":"item_reference","id"}` or a bare `{"id"}`), else undefined. */
export function referenceId(item: JsonObject): string | undefined {
  if (typeof item["id"] !== "string") return undefined;
  if (item["type"] === "item_reference") return item["id"];
  for (const key of Object.keys(item)) if (key !== "id" && !(key === "type" && item["type"] == null)) return undefined;
  return item["id"];
}

function textPart(role: unknown, text: string): JsonObject {
  return role === "assistant" ? { type: "output_text", text, annotations: [] } : { type: "input_text", text };
}

/** One input item as stored: a message with `type` and text parts; an id given when it has none. */
function normalizeItem(item: JsonObject): JsonObject {
  const type = item["type"];
  const out: JsonObject = { id: typeof item["id"] === "string" ? item["id"] : newId(itemIdPrefix(type)), ...item };
  if (type === undefined || type === null || type === "message") {
    out["type"] = "message";
    if (typeof item["content"] === "string") out["content"] = [textPart(item["role"], item["content"])];
  }
  return out;
}

/**
 * The request's `input` as items: every item with an id (new ones for those that have none), references kept as
 * `{"type":"item_reference","id"}` for resolveReferences.
 */
export function normalizeInput(input: unknown): JsonObject[] {
  if (typeof input === "string") return [normalizeItem({ role: "user", content: input })];
  if (!Array.isArray(input)) return [];
  return (input as JsonObject[]).map((item) => {
    const ref = referenceId(item);
    return ref !== undefined ? { type: "item_reference", id: ref } : normalizeItem(item);
  });
}

/** The ids the references among `items` name, each once, in order. */
export function referencedIds(items: readonly JsonObject[]): string[] {
  const ids = new Set<string>();
  for (const item of items) if (item["type"] === "item_reference") ids.add(item["id"] as string);
  return [...ids];
}

/** `items` with each reference replaced by the stored item it names (`found`, by id); one not found is a 404. */
export function resolveReferences(items: readonly JsonObject[], found: ReadonlyMap<string, JsonObject>): JsonObject[] {
  return items.map((item) => {
    if (item["type"] !== "item_reference") return item;
    const id = item["id"] as string;
    const stored = found.get(id);
    if (stored === undefined) throw itemNotFound(id);
    return stored;
  });
}

/** A stored response as the conversation needs it. */
export interface ChainLink {
  input: readonly JsonObject[];
  response: JsonObject;
}

/** The output items of a stored response. */
export function outputItems(response: JsonObject): JsonObject[] {
  const output = response["output"];
  return Array.isArray(output)
    ? output.filter((item): item is JsonObject => typeof item === "object" && item !== null)
    : [];
}

/** The conversation a chain holds, oldest first: each response's input items, then its output items. */
export function conversationOf(chain: readonly ChainLink[]): JsonObject[] {
  const items: JsonObject[] = [];
  for (const link of chain) items.push(...link.input, ...outputItems(link.response));
  return items;
}
