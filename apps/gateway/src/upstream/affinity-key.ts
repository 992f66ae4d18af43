import type { JsonObject, Principal } from "../types.ts";

/**
 * A request's affinity key: which conversation it continues, so that the replica pool (replica-pool.ts) sends it to
 * the inference replica whose sequences hold that conversation's prefix (on a CPU, evaluating the prompt again is what
 * the time to the first token is made of). Derived, in order:
 *
 * 1. `prompt_cache_key` (OpenAI's field, any generating route) when given: the caller names the conversation.
 * 2. /v1/responses: `conversationKey`, the root of a stored Responses chain (set on the context by the Responses
 *    store when a request continues one with `previous_response_id`). Its first turn had no root yet, so it was keyed
 *    by its leading items (3.): that key is the chain's `origin`, where the pool looks for the chain until the chain
 *    is remembered under its own key (from its second turn on), so the second turn finds the first one's replica.
 * 3. /v1/chat/completions, and /v1/responses with a list of input items: the conversation's leading messages, i.e.
 *    every message up to and including the first user message (Responses: `instructions` first, as the system
 *    message it becomes). Every turn of a conversation repeats them, so all its turns share the key; two
 *    conversations that share a system prompt differ by their first user message, so they do not (a router keyed on
 *    the first message only would send every conversation of one application to one replica). Two conversations
 *    that also open with the same user message share a key: they share that prefix too, and the load guard spreads
 *    them when one replica has too much of them.
 * 4. /v1/completions: the first 2,048 characters of the prompt (512 token ids for a prompt of ids), enough to pass a
 *    shared preamble (an instruction block, a few examples) and short enough that a growing transcript keys the same
 *    from its first turn on once that turn is longer. A shorter prompt is keyed whole: a conversation that grows from a
 *    short prompt changes key until it passes that length (send `prompt_cache_key` to keep it together from the start).
 * 5. /v1/embeddings, and anything else: no key (the least-loaded replica).
 *
 * Every key is scoped to the principal (its kind and id: the key, the signed-in user or the client address), so two
 * tenants never share a key, whether they chose the same `prompt_cache_key` or the same opening. The key is a
 * SHA-256 of that material (hex, 128 bits): what the pool hashes and what Redis stores, never a prompt's text.
 */

/** Characters of a /v1/completions prompt the key is taken from. */
export const COMPLETION_PREFIX_CHARS = 2048;
/** Token ids of a /v1/completions prompt of ids the key is taken from. */
export const COMPLETION_PREFIX_TOKENS = 512;

/** A request's affinity: the key it is remembered under, and where its conversation began when that differs. */
export interface AffinityKey {
  key: string;
  /** The key of the conversation's first turn (a Responses chain's leading items), when `key` is not it. */
  origin?: string | undefined;
}

export interface AffinitySource {
  /** The route (`/v1/chat/completions`, ...). */
  path: string;
  /** The shaped request. */
  json: JsonObject;
  principal: Pick<Principal, "kind" | "id">;
  /** `c.var.conversationKey`: the root of a stored Responses chain, when the request continues one. */
  conversationKey?: string | undefined;
}

const encoder = new TextEncoder();

/** The key of a request (see the header), or undefined when it has none. */
export async function affinityKey(source: AffinitySource): Promise<AffinityKey | undefined> {
  const material = affinityMaterial(source);
  if (material === undefined) return undefined;
  const origin =
    material.startsWith('["conversation"') && source.path === "/v1/responses"
      ? affinityMaterial({ ...source, conversationKey: undefined })
      : undefined;
  return { key: await sha256Hex(material), origin: origin === undefined ? undefined : await sha256Hex(origin) };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  let hex = "";
  for (const byte of digest.subarray(0, 16)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** What the key hashes: the principal, the kind of source and the source itself, unambiguously (JSON). */
export function affinityMaterial(source: AffinitySource): string | undefined {
  const { path, json } = source;
  const principal = `${source.principal.kind}:${source.principal.id}`;
  const cacheKey = json["prompt_cache_key"];
  if (typeof cacheKey === "string" && cacheKey !== "") return JSON.stringify(["prompt_cache_key", principal, cacheKey]);
  switch (path) {
    case "/v1/chat/completions": {
      const messages = json["messages"];
      if (!Array.isArray(messages) || messages.length === 0) return undefined;
      return JSON.stringify(["messages", principal, leadingMessages(messages)]);
    }
    case "/v1/responses": {
      if (typeof source.conversationKey === "string" && source.conversationKey !== "")
        return JSON.stringify(["conversation", principal, source.conversationKey]);
      const items: unknown[] = [];
      const instructions = json["instructions"];
      if (typeof instructions === "string") items.push({ role: "system", content: instructions });
      const input = json["input"];
      if (typeof input === "string") items.push({ role: "user", content: input });
      else if (Array.isArray(input)) items.push(...input);
      if (items.length === 0) return undefined;
      return JSON.stringify(["messages", principal, leadingMessages(items)]);
    }
    case "/v1/completions": {
      let prompt = json["prompt"];
      if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] !== "number") prompt = prompt[0];
      if (typeof prompt === "string")
        return JSON.stringify(["prompt", principal, prompt.slice(0, COMPLETION_PREFIX_CHARS)]);
      if (Array.isArray(prompt) && prompt.length > 0)
        return JSON.stringify(["prompt_ids", principal, prompt.slice(0, COMPLETION_PREFIX_TOKENS)]);
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The messages up to and including the first user message (all of them when none is a user's), each as its role and
 * text: chat messages and Responses input items of one conversation look alike (`content` a string or text parts).
 */
function leadingMessages(items: readonly unknown[]): Array<[string, string]> {
  const leading: Array<[string, string]> = [];
  for (const item of items) {
    const message = (typeof item === "object" && item !== null ? item : {}) as JsonObject;
    const role = typeof message["role"] === "string" ? message["role"] : String(message["type"] ?? "item");
    leading.push([role, textOf(message)]);
    if (role === "user") break;
  }
  return leading;
}

function textOf(message: JsonObject): string {
  const content = message["content"];
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    let text = "";
    for (const part of content) {
      const value = (part as JsonObject | null)?.["text"];
      text += typeof value === "string" ? value : JSON.stringify(part);
    }
    return text;
  }
  // No content (an assistant's tool calls, a function call item): the item itself.
  return JSON.stringify(message);
}
