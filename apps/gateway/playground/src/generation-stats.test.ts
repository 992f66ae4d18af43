import { describe, expect, it } from "vitest";
import { generationStats } from "./generation-stats.ts";

describe("generationStats", () => {
  it("reports usage tokens and the decoding rate from the first to the last text chunk", () => {
    const stats = generationStats({
      sentAt: 1000,
      firstTextAt: 1200,
      lastTextAt: 1700,
      textChunks: 40,
      completionTokens: 51,
    });
    expect(stats).toEqual({ completionTokens: 51, estimated: false, tokensPerSecond: 100, firstTokenMs: 200 });
  });

  it("estimates from the chunks received when a stopped generation had no usage", () => {
    const stats = generationStats({
      sentAt: 0,
      firstTextAt: 50,
      lastTextAt: 1050,
      textChunks: 21,
      completionTokens: null,
    });
    expect(stats).toEqual({ completionTokens: 21, estimated: true, tokensPerSecond: 20, firstTokenMs: 50 });
  });

  it("has no rate without two tokens over a measurable time", () => {
    expect(
      generationStats({ sentAt: 0, firstTextAt: null, lastTextAt: null, textChunks: 0, completionTokens: null }),
    ).toEqual({ completionTokens: 0, estimated: true, tokensPerSecond: null, firstTokenMs: null });
    expect(
      generationStats({ sentAt: 0, firstTextAt: 5, lastTextAt: 5, textChunks: 1, completionTokens: 1 }).tokensPerSecond,
    ).toBeNull();
  });
});
