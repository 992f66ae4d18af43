import { describe, expect, it } from "vitest";
import { matchesBase } from "./matches-base.ts";

describe("matchesBase", () => {
  it("accepts the same repo and its GGUF conversion by another org", () => {
    expect(matchesBase("meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-1B")).toBe(true);
    expect(matchesBase("meta-llama/Llama-3.2-1B", "bartowski/Llama-3.2-1B-GGUF")).toBe(true);
    expect(matchesBase("/data/models/Qwen2-0.5B/", "Qwen/Qwen2-0.5B-GGUF")).toBe(true);
  });

  it("refuses another model", () => {
    expect(matchesBase("meta-llama/Llama-3.2-3B", "bartowski/Llama-3.2-1B-GGUF")).toBe(false);
    expect(matchesBase("other/model", "tiny/base")).toBe(false);
    expect(matchesBase("tiny/base-instruct", "tiny/base-GGUF")).toBe(false);
  });
});
