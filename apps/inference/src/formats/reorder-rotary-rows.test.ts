import { describe, expect, it } from "vitest";
import { ShapeMismatchError } from "./errors.ts";
import { reorderRotaryRows } from "./reorder-rotary-rows.ts";

/** Source row of each output row, read off a one-column matrix of row indices. */
function sourceRows(rows: number, heads: number): number[] {
  return Array.from(
    reorderRotaryRows(
      Float32Array.from({ length: rows }, (_, i) => i),
      1,
      heads,
    ),
  );
}

describe("reorderRotaryRows", () => {
  it("matches the examples of lora-format.md", () => {
    expect(sourceRows(8, 2)).toEqual([0, 2, 1, 3, 4, 6, 5, 7]); // q with 2 heads of size 4
    expect(sourceRows(8, 1)).toEqual([0, 4, 1, 5, 2, 6, 3, 7]); // one head of size 8
  });

  it("moves whole rows and leaves the input untouched", () => {
    const matrix = Float32Array.from([10, 11, 20, 21, 30, 31, 40, 41]); // 4 rows of 2
    const out = reorderRotaryRows(matrix, 2, 1);
    expect(Array.from(out)).toEqual([10, 11, 30, 31, 20, 21, 40, 41]);
    expect(matrix[2]).toBe(20);
  });

  it("is the identity for heads of size 2", () => {
    expect(sourceRows(6, 3)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("refuses rows that do not split into heads of an even size", () => {
    expect(() => sourceRows(6, 2)).toThrow(ShapeMismatchError);
    expect(() => sourceRows(8, 3)).toThrow(/cannot be split into 3 heads/);
  });
});
