import { describe, expect, it } from "vitest";
import { toFloat16Bits } from "./float16.ts";

describe("toFloat16Bits", () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [65504, 0x7bff], // largest finite half
    [65520, 0x7c00], // rounds up to Infinity
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // exactly half of it: ties to even
    [1.5 * 2 ** -25, 0x0001],
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: ties to even
    [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd neighbour: rounds up
  ])("%d -> %i", (value, bits) => {
    expect(toFloat16Bits(value)).toBe(bits);
  });

  it("maps NaN to a quiet NaN", () => {
    expect(toFloat16Bits(Number.NaN) & 0x7e00).toBe(0x7e00);
  });
});
