import type { JsonObject } from "../types.ts";
import { outputItems } from "./expand.ts";
import { utf8Length, type ResponseStore } from "./store.ts";

/**
 * Stored responses over a ResponseStore, always in the name of an owner (owner.ts): one record per response
 * (`r:<owner>:<id>`: the Response object as answered, its input items expanded, the chain it continues) and one entry
 * per item it brought in (`i:<owner>:<item id>`: its own input items and its output items), so that an
 * `item_reference` finds its item in one read. Keys hold the owner, so another owner's lookup is a miss. Each entry
 * expires GATEWAY_RESPONSES_TTL_S after its response was created (OpenAI keeps responses 30 days); a record beyond
 * GATEWAY_RESPONSES_MAX_BYTES is not stored.
 */

export interface StoredResponse {
  v: 1;
  id: string;
  /** The first response of its conversation (itself when it starts one): the conversation's routing key. */
  root: string;
  /** The responses this one continues through previous_response_id, oldest first (not itself). */
  chain: string[];
  /** The Response object as it was answered. */
  response: JsonObject;
  /** Its input items, references replaced by their items, each with an id. */
  input: JsonObject[];
  /** The ids of the items it stored for item_reference: its own input items (not those it referred to) and its output. */
  items: string[];
}

/** An item as stored for item_reference: the item, and the response and conversation it belongs to. */
export interface StoredItem {
  response: string;
  root: string;
  item: JsonObject;
}

export interface StoredResponsesOptions {
  store: ResponseStore;
  /** GATEWAY_RESPONSES_TTL_S. */
  ttlSec: number;
  /** GATEWAY_RESPONSES_MAX_BYTES: the largest record (UTF-8 JSON) stored. */
  maxBytes: number;
}

/** Whether a record is stored (decided at once, from its size), and its write when it is. */
export type SaveResult = { stored: true; written: Promise<void> } | { stored: false; bytes: number };

export interface StoredResponses {
  readonly ttlSec: number;
  readonly maxBytes: number;
  get(owner: string, id: string): Promise<StoredResponse | undefined>;
  getMany(owner: string, ids: readonly string[]): Promise<Array<StoredResponse | undefined>>;
  items(owner: string, ids: readonly string[]): Promise<Array<StoredItem | undefined>>;
  /** Stores the record and its items (`record.items`, found in its input and output); not when too large. */
  save(owner: string, record: StoredResponse): SaveResult;
  /** Removes the response and the items it stored (those another response has since stored again stay). */
  delete(owner: string, id: string): Promise<boolean>;
}

const responseKey = (owner: string, id: string) => `r:${owner}:${id}`;
const itemKey = (owner: string, id: string) => `i:${owner}:${id}`;

function parse<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export function createStoredResponses(options: StoredResponsesOptions): StoredResponses {
  const { store, ttlSec, maxBytes } = options;

  async function getMany(owner: string, ids: readonly string[]): Promise<Array<StoredResponse | undefined>> {
    const texts = await store.get(ids.map((id) => responseKey(owner, id)));
    return texts.map((text, i) => {
      const record = parse<StoredResponse>(text);
      return record?.v === 1 && record.id === ids[i] ? record : undefined;
    });
  }

  async function items(owner: string, ids: readonly string[]): Promise<Array<StoredItem | undefined>> {
    const texts = await store.get(ids.map((id) => itemKey(owner, id)));
    return texts.map((text) => parse<StoredItem>(text));
  }

  return {
    ttlSec,
    maxBytes,
    async get(owner, id) {
      return (await getMany(owner, [id]))[0];
    },
    getMany,
    items,
    save(owner, record) {
      const text = JSON.stringify(record);
      const bytes = utf8Length(text);
      if (bytes > maxBytes) return { stored: false, bytes };
      const wanted = new Set(record.items);
      const entries: Array<[string, string]> = [[responseKey(owner, record.id), text]];
      for (const item of [...record.input, ...outputItems(record.response)]) {
        const id = item["id"];
        if (typeof id !== "string" || !wanted.has(id)) continue;
        wanted.delete(id);
        const stored: StoredItem = { response: record.id, root: record.root, item };
        entries.push([itemKey(owner, id), JSON.stringify(stored)]);
      }
      return { stored: true, written: store.set(entries, ttlSec) };
    },
    async delete(owner, id) {
      const record = (await getMany(owner, [id]))[0];
      if (record === undefined) return false;
      const stored = await items(owner, record.items);
      const mine = record.items.filter((_, i) => stored[i]?.response === id).map((item) => itemKey(owner, item));
      await store.delete([responseKey(owner, id), ...mine]);
      return true;
    },
  };
}
