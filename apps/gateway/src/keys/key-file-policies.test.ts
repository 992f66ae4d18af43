import { describe, expect, it } from "vitest";
import { silentLogger } from "../logger.ts";
import { sha256Hex } from "./api-key.ts";
import { buildKeyRecords, buildPolicies, KeyFileError, readKeyFile } from "./key-file.ts";
import { createKeyLoader } from "./key-loader.ts";
import type { KeyPolicy } from "./key-policy.ts";
import { createKeyring } from "./keyring.ts";

/** The key file's named policies (what a key's `policy` and a sign-in token's policy claim name) and `mintTokens`. */

const defaults = {
  models: "*",
  requestsPerMinute: 60,
  tokensPerMinute: 0,
  concurrentStreams: 4,
  concurrentRequests: 0,
  maxTokens: 512,
  maxChoices: 0,
} as KeyPolicy;
const MINTER = "sk-minter-0123456789abcdef";
const PRO = "sk-pro-key-0123456789abcdef";

const FILE = JSON.stringify({
  keys: [
    { id: "backend", key: MINTER, mintTokens: true },
    { id: "pro-key", key: PRO, policy: "pro", maxTokens: 64 },
  ],
  policies: {
    pro: { requestsPerMinute: 600, models: ["tiny"] },
    free: { requestsPerMinute: 10, tokensPerMinute: 1000 },
  },
});

describe("key file: named policies and mintTokens", () => {
  it("fills named policies from the defaults; a key's own fields override its named policy", async () => {
    const file = readKeyFile(FILE);
    const policies = buildPolicies(file.policies, defaults);
    expect(policies.get("free")).toEqual({ ...defaults, requestsPerMinute: 10, tokensPerMinute: 1000 });
    const records = await buildKeyRecords(file.keys, defaults, policies);
    expect(records[0]?.policy).toEqual({ ...defaults, mintTokens: true });
    expect(records[1]?.policy).toEqual({ ...defaults, requestsPerMinute: 600, models: ["tiny"], maxTokens: 64 });
    expect(records[1]?.policy.mintTokens).toBeUndefined();
  });

  it("reports an unknown policy, a bad policy name and a non-boolean mintTokens by path", async () => {
    const file = readKeyFile(JSON.stringify({ keys: [{ key: PRO, policy: "gold" }] }));
    await expect(buildKeyRecords(file.keys, defaults, new Map())).rejects.toThrow(/keys\.0\.policy: unknown policy/);
    try {
      readKeyFile(JSON.stringify({ keys: [{ key: PRO, mintTokens: "yes" }], policies: { "bad name": {} } }));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(KeyFileError);
      expect((error as Error).message).toMatch(/keys\.0\.mintTokens/);
      expect((error as Error).message).toMatch(/policies/);
      expect((error as Error).message).not.toContain(PRO);
    }
  });

  it("puts the named policies in the keyring, and swaps them on reload", async () => {
    let text = FILE;
    const keyring = createKeyring();
    const loader = createKeyLoader({
      envKeys: [],
      readFile: async () => text,
      defaults,
      keyring,
      logger: silentLogger,
    });
    await loader.load();
    expect(keyring.policy("free")?.requestsPerMinute).toBe(10);
    expect(keyring.find(await sha256Hex(MINTER))?.policy.mintTokens).toBe(true);
    text = JSON.stringify({ keys: [], policies: { free: { requestsPerMinute: 20 } } });
    expect(await loader.reload("test")).toBe(true);
    expect(keyring.policy("free")?.requestsPerMinute).toBe(20);
    expect(keyring.policy("pro")).toBeUndefined();
  });
});
