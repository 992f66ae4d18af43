import { describe, expect, it } from "vitest";
import { createMemoryResponseStore } from "./memory-store.ts";
import { utf8Length } from "./store.ts";

describe("the in-memory response store", () => {
  it("keeps values until their TTL, then answers as if they never were", async () => {
    let now = 1_000_000;
    const store = createMemoryResponseStore({ maxBytes: 1 << 20, now: () => now });
    await store.set(
      [
        ["a", "1"],
        ["b", "2"],
      ],
      10,
    );
    expect(await store.get(["a", "b", "c"])).toEqual(["1", "2", undefined]);
    now += 9_999;
    expect(await store.get(["a"])).toEqual(["1"]);
    now += 1;
    expect(await store.get(["a", "b"])).toEqual([undefined, undefined]);
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
    expect(await store.delete(["a"])).toBe(0);
  });

  it("is bounded by bytes: the least recently used go first, a read counts as a use", async () => {
    const value = "x".repeat(1000);
    const store = createMemoryResponseStore({ maxBytes: 3 * 1100 });
    await store.set([["one", value]], 60);
    await store.set([["two", value]], 60);
    await store.set([["three", value]], 60);
    expect(store.size).toBe(3);
    await store.get(["one"]); // "two" is now the least recently used
    await store.set([["four", value]], 60);
    expect(await store.get(["one", "two", "three", "four"])).toEqual([value, undefined, value, value]);
    expect(store.bytes).toBeLessThanOrEqual(3 * 1100);
    // Replacing a value counts it once.
    await store.set([["four", "short"]], 60);
    expect(store.size).toBe(3);
    // One value larger than the whole bound is not kept (and evicts nothing).
    await store.set([["huge", "y".repeat(4000)]], 60);
    expect(await store.get(["huge", "one"])).toEqual([undefined, value]);
    expect(await store.delete(["one", "three", "missing"])).toBe(2);
    expect(store.size).toBe(1);
  });

  it("counts bytes as UTF-8", () => {
    expect(utf8Length("aé€😀")).toBe(1 + 2 + 3 + 4);
    expect(utf8Length("aé€😀")).toBe(new TextEncoder().encode("aé€😀").length);
  });
});
