import { SafeError } from "@slm/config";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "./api-key.ts";
import { buildKeyRecords, KeyFileError, parseKeyFile } from "./key-file.ts";
import type { KeyPolicy } from "./key-policy.ts";

const defaults: KeyPolicy = {
  models: "*",
  requestsPerMinute: 60,
  tokensPerMinute: 0,
  concurrentStreams: 4,
  concurrentRequests: 8,
  maxTokens: 512,
  maxChoices: 0,
};
const PLAIN = "sk-file-key-0123456789abcdef";

describe("key file", () => {
  it("hashes plain keys, takes sha256: entries as they are, and fills policies from the defaults", async () => {
    const hashed = await sha256Hex("sk-other-key-0123456789abcdef");
    const entries = parseKeyFile(
      JSON.stringify({
        keys: [
          { id: "web", key: PLAIN, models: ["tiny"], requestsPerMinute: 5, maxTokens: 32, concurrentRequests: 2 },
          { key: `sha256:${hashed.toUpperCase()}` },
        ],
      }),
    );
    const records = await buildKeyRecords(entries, defaults);
    expect(records).toEqual([
      {
        id: "web",
        digest: await sha256Hex(PLAIN),
        policy: {
          models: ["tiny"],
          requestsPerMinute: 5,
          tokensPerMinute: 0,
          concurrentStreams: 4,
          concurrentRequests: 2,
          maxTokens: 32,
          maxChoices: 0,
        },
      },
      { id: hashed.slice(0, 12), digest: hashed, policy: defaults },
    ]);
    expect(JSON.stringify(records)).not.toContain(PLAIN);
  });

  it("reports problems by path, never by value", () => {
    const bad = {
      keys: [
        { key: "short-secret" },
        { key: "sha256:zz", models: "tiny" },
        { key: PLAIN, requestsPerMinute: -1, extra: 1 },
      ],
    };
    try {
      parseKeyFile(JSON.stringify(bad));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(KeyFileError);
      expect(error).toBeInstanceOf(SafeError);
      expect((error as KeyFileError).code).toBe("key_file_invalid");
      const message = (error as Error).message;
      expect(message).toMatch(/keys\.0\.key/);
      expect(message).toMatch(/keys\.1\.key/);
      expect(message).toMatch(/keys\.1\.models/);
      expect(message).toMatch(/keys\.2\.requestsPerMinute/);
      expect(message).toMatch(/keys\.2\.extra/);
      expect(message).not.toContain("short-secret");
      expect(message).not.toContain(PLAIN);
    }
    expect(() => parseKeyFile("{not json")).toThrow(/not valid JSON/);
  });

  it("refuses duplicate keys and ids", async () => {
    const entries = parseKeyFile(
      JSON.stringify({
        keys: [
          { id: "a", key: PLAIN },
          { id: "a", key: PLAIN },
        ],
      }),
    );
    await expect(buildKeyRecords(entries, defaults)).rejects.toThrow(
      /keys\.1\.key: duplicate key; keys\.1\.id: duplicate id/,
    );
  });
});
