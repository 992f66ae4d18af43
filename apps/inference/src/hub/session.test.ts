import { readInferenceEnv } from "@slm/config";
import { describe, expect, it } from "vitest";
import { DEFAULT_TIMEOUT_MS } from "./remote/index.ts";
import { createHubSession, hubSessionFromConfig } from "./session.ts";

describe("Hub session from the environment", () => {
  it("takes HF_HUB_DOWNLOAD_TIMEOUT in seconds (decimals too), 10 s by default", async () => {
    expect((await hubSessionFromConfig(readInferenceEnv({ HOME: "/nowhere" }))).downloadTimeoutMs).toBe(10_000);
    expect(DEFAULT_TIMEOUT_MS).toBe(10_000);
    expect(createHubSession({ hubUrl: "https://huggingface.co", cacheDir: "/c" }).downloadTimeoutMs).toBe(10_000);
    const config = readInferenceEnv({ HOME: "/nowhere", HF_HUB_DOWNLOAD_TIMEOUT: "2.5" });
    expect((await hubSessionFromConfig(config)).downloadTimeoutMs).toBe(2_500);
    expect(() => readInferenceEnv({ HF_HUB_DOWNLOAD_TIMEOUT: "soon" })).toThrow(/HF_HUB_DOWNLOAD_TIMEOUT/);
  });

  it("accepts HF_HUB_DISABLE_XET without a word, and reports each HF_XET_* variable as ignored", () => {
    const config = readInferenceEnv({
      HF_HUB_DISABLE_XET: "1",
      HF_XET_HIGH_PERFORMANCE: "1",
      HF_XET_CHUNK_CACHE_SIZE_BYTES: "0",
    });
    expect(config.ignored).toEqual([
      { variable: "HF_XET_CHUNK_CACHE_SIZE_BYTES", reason: expect.stringMatching(/never uses.*Xet/) },
      { variable: "HF_XET_HIGH_PERFORMANCE", reason: expect.stringMatching(/never uses.*Xet/) },
    ]);
    expect(readInferenceEnv({ HF_HUB_DISABLE_XET: "0" }).ignored).toEqual([]);
  });
});
