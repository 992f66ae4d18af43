import { describe, expect, it } from "vitest";
import { permuteForLlamaRope } from "./llama-rope-permute.ts";

describe("permuteForLlamaRope", () => {
  const rows = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

  it("reorders rows like llama.cpp's converter (examples from lora-format.md)", () => {
    expect(Array.from(permuteForLlamaRope(rows(8), 8, 1, 2))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    expect(Array.from(permuteForLlamaRope(rows(8), 8, 1, 1))).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
  });

  it("moves whole rows", () => {
    const matrix = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]); // 4 rows of 2, one head
    expect(Array.from(permuteForLlamaRope(matrix, 4, 2, 1))).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
  });

  it("refuses heads of an odd size", () => {
    expect(() => permuteForLlamaRope(rows(6), 6, 1, 2)).toThrow(RangeError);
  });
});
