import { describe, expect, it } from "vitest";
import { silentLogger } from "../logger.ts";
import { sha256Hex } from "./api-key.ts";
import { createKeyLoader } from "./key-loader.ts";
import type { KeyPolicy } from "./key-policy.ts";
import { createKeyring } from "./keyring.ts";

const defaults: KeyPolicy = {
  models: "*",
  requestsPerMinute: 0,
  tokensPerMinute: 0,
  concurrentStreams: 0,
  concurrentRequests: 0,
  maxTokens: 64,
  maxChoices: 0,
};
const A = "sk-key-a-0123456789abcdef";
const B = "sk-key-b-0123456789abcdef";
const ENV = "sk-env-0123456789abcdefgh";

describe("key loader", () => {
  it("loads env and file keys, swaps them on reload, and keeps them when a reload fails", async () => {
    let file = JSON.stringify({ keys: [{ id: "a", key: A }] });
    const keyring = createKeyring();
    const reloads: boolean[] = [];
    const loader = createKeyLoader({
      envKeys: [ENV],
      readFile: async () => file,
      defaults,
      keyring,
      logger: silentLogger,
      metrics: { keysReloaded: (ok: boolean) => reloads.push(ok) } as never,
    });
    expect(await loader.load()).toBe(2);
    expect(keyring.find(await sha256Hex(A))?.id).toBe("a");
    expect(keyring.find(await sha256Hex(ENV))).toBeDefined();

    file = JSON.stringify({ keys: [{ id: "b", key: B }] });
    expect(await loader.reload("test")).toBe(true);
    expect(keyring.find(await sha256Hex(A))).toBeUndefined();
    expect(keyring.find(await sha256Hex(B))?.id).toBe("b");

    file = "{ broken";
    expect(await loader.reload("test")).toBe(false);
    expect(keyring.find(await sha256Hex(B))?.id).toBe("b");
    expect(reloads).toEqual([true, false]);
  });

  it("coalesces a burst of change events into one reload", async () => {
    let reads = 0;
    const loader = createKeyLoader({
      envKeys: [],
      readFile: async () => {
        reads++;
        return JSON.stringify({ keys: [] });
      },
      defaults,
      keyring: createKeyring(),
      logger: silentLogger,
      debounceMs: 20,
    });
    for (let i = 0; i < 5; i++) loader.reloadSoon("changed");
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(reads).toBe(1);
  });
});
