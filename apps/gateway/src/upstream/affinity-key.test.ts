import { describe, expect, it } from "vitest";
import type { Principal } from "../types.ts";
import { affinityKey, COMPLETION_PREFIX_CHARS, type AffinitySource } from "./affinity-key.ts";

type Who = Pick<Principal, "kind" | "id">;
const alice: Who = { kind: "key", id: "alice" };
const bob: Who = { kind: "key", id: "bob" };
const SYSTEM = { role: "system", content: "You are a helpful assistant." };

const keyOf = async (source: AffinitySource) => (await affinityKey(source))?.key;
const chat = (messages: unknown[], extra: Record<string, unknown> = {}, principal: Who = alice) =>
  keyOf({ path: "/v1/chat/completions", json: { model: "m", messages, ...extra }, principal });

describe("affinity keys", () => {
  it("gives every turn of a conversation one key", async () => {
    const turn1 = [SYSTEM, { role: "user", content: "Tell me about otters." }];
    const turn2 = [...turn1, { role: "assistant", content: "Otters are..." }, { role: "user", content: "And seals?" }];
    const turn3 = [...turn2, { role: "assistant", content: "Seals are..." }, { role: "user", content: "Thanks." }];
    const key = await chat(turn1);
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(await chat(turn2)).toBe(key);
    expect(await chat(turn3)).toBe(key);
    // Sampling and other fields play no part.
    expect(await chat(turn2, { temperature: 0.2, max_tokens: 9 })).toBe(key);
  });

  it("tells apart two conversations that share a system prompt", async () => {
    const one = await chat([SYSTEM, { role: "user", content: "Tell me about otters." }]);
    const two = await chat([SYSTEM, { role: "user", content: "What is 2 + 2?" }]);
    expect(one).not.toBe(two);
    // Text parts count as their text.
    expect(await chat([SYSTEM, { role: "user", content: [{ type: "text", text: "What is 2 + 2?" }] }])).toBe(two);
  });

  it("takes prompt_cache_key first, scoped to the principal", async () => {
    const a = await chat([{ role: "user", content: "x" }], { prompt_cache_key: "thread-1" });
    expect(await chat([{ role: "user", content: "something else" }], { prompt_cache_key: "thread-1" })).toBe(a);
    expect(await chat([{ role: "user", content: "x" }], { prompt_cache_key: "thread-1" }, bob)).not.toBe(a);
    expect(await chat([{ role: "user", content: "x" }], { prompt_cache_key: "thread-2" })).not.toBe(a);
    expect(await chat([{ role: "user", content: "x" }])).not.toBe(a);
    // The same opening under two principals: two keys.
    expect(await chat([SYSTEM, { role: "user", content: "hi" }], {}, bob)).not.toBe(
      await chat([SYSTEM, { role: "user", content: "hi" }]),
    );
    // A user principal and a key of the same id do not meet either.
    const asUser = await chat(
      [{ role: "user", content: "x" }],
      { prompt_cache_key: "thread-1" },
      { kind: "user", id: "alice" },
    );
    expect(asUser).not.toBe(a);
  });

  it("keys Responses by their stored chain, else by their leading input items (instructions first)", async () => {
    const responses = (json: Record<string, unknown>, conversationKey?: string) =>
      keyOf({ path: "/v1/responses", json: { model: "m", ...json }, principal: alice, conversationKey });
    const chain = await responses({ input: "and then?" }, "resp_root_1");
    expect(await responses({ input: "something else" }, "resp_root_1")).toBe(chain);
    expect(await responses({ input: "and then?" }, "resp_root_2")).not.toBe(chain);
    // prompt_cache_key still comes first.
    expect(await responses({ input: "a", prompt_cache_key: "t" }, "resp_root_1")).toBe(
      await chat([{ role: "user", content: "b" }], { prompt_cache_key: "t" }),
    );
    const items = [
      { role: "user", content: [{ type: "input_text", text: "Tell me about otters." }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Otters are..." }] },
      { role: "user", content: "And seals?" },
    ];
    const first = await responses({ instructions: SYSTEM.content, input: items.slice(0, 1) });
    expect(await responses({ instructions: SYSTEM.content, input: items })).toBe(first);
    expect(await responses({ instructions: SYSTEM.content, input: "Tell me about otters." })).toBe(first);
    // The same conversation as a chat: the same key.
    expect(await chat([SYSTEM, { role: "user", content: "Tell me about otters." }])).toBe(first);
    expect(await responses({ instructions: SYSTEM.content, input: "What is 2 + 2?" })).not.toBe(first);
  });

  it("gives a stored chain its first turn's key as origin, so its second turn finds the first one's replica", async () => {
    const first = await affinityKey({
      path: "/v1/responses",
      json: { model: "m", instructions: SYSTEM.content, input: "Tell me about otters." },
      principal: alice,
    });
    expect(first?.origin).toBeUndefined();
    // The second turn, as the Responses store forwards it: the chain's items expanded, its root as conversationKey.
    const second = await affinityKey({
      path: "/v1/responses",
      json: {
        model: "m",
        instructions: SYSTEM.content,
        input: [
          {
            type: "message",
            id: "msg_1",
            role: "user",
            content: [{ type: "input_text", text: "Tell me about otters." }],
          },
          { type: "message", id: "msg_2", role: "assistant", content: [{ type: "output_text", text: "Otters..." }] },
          { type: "message", role: "user", content: [{ type: "input_text", text: "And seals?" }] },
        ],
      },
      principal: alice,
      conversationKey: "resp_root",
    });
    expect(second?.origin).toBe(first?.key);
    expect(second?.key).not.toBe(first?.key);
    // Chat requests have no origin: their key is their first turn's already.
    expect(
      (await affinityKey({ path: "/v1/chat/completions", json: { messages: [SYSTEM] }, principal: alice }))?.origin,
    ).toBeUndefined();
  });

  it("keys completions by the leading part of the prompt, and embeddings not at all", async () => {
    const completion = (prompt: unknown) =>
      keyOf({ path: "/v1/completions", json: { model: "m", prompt }, principal: alice });
    const preamble = "A shared preamble. ".repeat(40);
    const one = `${preamble}Conversation one. `.repeat(4);
    const two = `${preamble}Conversation two. `.repeat(4);
    expect(one.length).toBeGreaterThan(COMPLETION_PREFIX_CHARS);
    expect(await completion(`${one}Q: more\nA:`)).toBe(await completion(one));
    expect(await completion([one])).toBe(await completion(one));
    expect(await completion(two)).not.toBe(await completion(one));
    expect(await completion([1, 2, 3])).toBe(await completion([[1, 2, 3]]));
    expect(await keyOf({ path: "/v1/embeddings", json: { model: "m", input: "x" }, principal: alice })).toBeUndefined();
  });
});
