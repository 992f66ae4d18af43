import { readFile, writeFile } from "node:fs/promises";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { PromptCache } from "./prompt-cache.ts";

/**
 * A stand-in for a context sequence: its "state" file is its tokens, padded to a size per token, so what the cache
 * restores can be read back and sizes are predictable.
 */
class FakeSequence {
  contextTokens: Token[] = [];
  loads = 0;
  constructor(private readonly bytesPerToken = 100) {}
  get nextTokenIndex() {
    return this.contextTokens.length;
  }
  compareContextTokens(tokens: Token[]) {
    let i = 0;
    while (i < tokens.length && i < this.contextTokens.length && tokens[i] === this.contextTokens[i]) i++;
    return { firstDifferentIndex: i };
  }
  async saveStateToFile(path: string) {
    const bytes = Buffer.alloc(this.contextTokens.length * this.bytesPerToken);
    Buffer.from(JSON.stringify(this.contextTokens)).copy(bytes);
    await writeFile(path, bytes);
    return { fileSize: bytes.length };
  }
  async loadStateFromFile(path: string) {
    const text = (await readFile(path)).toString().replace(/\0+$/, "");
    this.contextTokens = JSON.parse(text) as Token[];
    this.loads++;
  }
  as(): LlamaContextSequence {
    return this as unknown as LlamaContextSequence;
  }
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => (from + i) as Token);
const SYSTEM = range(1, 40);
const conversation = (id: number, turns: number) => [...SYSTEM, ...range(1000 * id, 50 * turns)];

describe("PromptCache", () => {
  it("saves the history a prompt would discard and restores it for the conversation's next turn", async () => {
    const cache = new PromptCache({ maxBytes: 1 << 20 }).scope("m");
    const slot = new FakeSequence();
    slot.contextTokens = conversation(1, 2);
    // Conversation 2 takes the slot: conversation 1's 100 own tokens are kept.
    await cache.prepare([slot.as()], conversation(2, 1));
    expect(cache.cache.stats().ramEntries).toBe(1);
    expect(slot.loads).toBe(0);
    slot.contextTokens = conversation(2, 1);
    // Conversation 1's next turn finds its history in the cache.
    const next = conversation(1, 3);
    expect(cache.longestPrefix(next)).toBe(SYSTEM.length + 100);
    expect(await cache.prepare([slot.as()], next)).toBe(SYSTEM.length + 100);
    expect(slot.contextTokens).toEqual(conversation(1, 2));
  });

  it("leaves a slot alone when it holds as much, and does not save what a prompt keeps", async () => {
    const cache = new PromptCache({ maxBytes: 1 << 20 }).scope("m");
    const slot = new FakeSequence();
    slot.contextTokens = conversation(1, 2);
    expect(await cache.prepare([slot.as()], conversation(1, 3))).toBe(0);
    expect(cache.cache.stats().ramEntries).toBe(0);
    expect(slot.loads).toBe(0);
  });

  it("drops an entry that a newer state of the same conversation extends", async () => {
    const cache = new PromptCache({ maxBytes: 1 << 20 }).scope("m");
    const slot = new FakeSequence();
    slot.contextTokens = conversation(1, 1);
    await cache.prepare([slot.as()], conversation(2, 1));
    slot.contextTokens = conversation(1, 2);
    await cache.prepare([slot.as()], conversation(3, 1));
    expect(cache.cache.stats().ramEntries).toBe(1);
    expect(cache.cache.stats().ramBytes).toBe(conversation(1, 2).length * 100);
  });

  it("stays within maxBytes, least recently used out first", async () => {
    const evicted: string[] = [];
    const entryBytes = conversation(1, 1).length * 100;
    const cache = new PromptCache({
      maxBytes: entryBytes * 2,
      events: { evicted: (tier) => evicted.push(tier) },
    }).scope("m");
    const slot = new FakeSequence();
    for (const id of [1, 2, 3]) {
      slot.contextTokens = conversation(id, 1);
      await cache.prepare([slot.as()], conversation(9, 1));
    }
    expect(evicted).toEqual(["ram"]);
    expect(cache.cache.stats()).toMatchObject({ ramEntries: 2, ramBytes: entryBytes * 2 });
    expect(cache.longestPrefix(conversation(1, 2))).toBe(SYSTEM.length);
    expect(cache.longestPrefix(conversation(3, 2))).toBe(conversation(3, 1).length);
  });

  it("never restores a state into another namespace (another model or adapter set)", async () => {
    const shared = new PromptCache({ maxBytes: 1 << 20 });
    const slot = new FakeSequence();
    slot.contextTokens = conversation(1, 2);
    await shared.scope("model-a").prepare([slot.as()], conversation(2, 1));
    slot.contextTokens = [];
    expect(await shared.scope("model-b").prepare([slot.as()], conversation(1, 3))).toBe(0);
    expect(await shared.scope("model-a").prepare([slot.as()], conversation(1, 3))).toBeGreaterThan(0);
  });

  it("is off at maxBytes 0", async () => {
    const cache = new PromptCache({ maxBytes: 0 }).scope("m");
    const slot = new FakeSequence();
    slot.contextTokens = conversation(1, 2);
    expect(await cache.prepare([slot.as()], conversation(2, 1))).toBe(0);
    expect(cache.cache.stats().ramEntries).toBe(0);
  });
});

describe("PromptCache, concurrent saves", () => {
  it("counts a history that two slots save at once once", async () => {
    const cache = new PromptCache({ maxBytes: 1 << 20 }).scope("m");
    const a = new FakeSequence();
    const b = new FakeSequence();
    a.contextTokens = conversation(1, 2);
    b.contextTokens = conversation(1, 2);
    await Promise.all([cache.prepare([a.as()], conversation(2, 1)), cache.prepare([b.as()], conversation(3, 1))]);
    expect(cache.cache.stats()).toEqual({
      ramEntries: 1,
      ramBytes: conversation(1, 2).length * 100,
      diskBytes: 0,
      diskEntries: 0,
    });
  });
});
