import { describe, expect, it } from "vitest";
import { decodeHalf, encodeHalf } from "./half-precision.ts";

describe("half precision", () => {
  it.each([
    [1, 0x3c00, 0x3f80],
    [-2, 0xc000, 0xc000],
    [0.1, 0x2e66, 0x3dcd],
    [65504, 0x7bff, 0x4780], // BF16 rounds 0x477fe000 up to 65536
    [Infinity, 0x7c00, 0x7f80],
  ])("encodes %d as F16 %i and BF16 %i", (value, f16, bf16) => {
    expect(encodeHalf("F16", value)).toBe(f16);
    expect(encodeHalf("BF16", value)).toBe(bf16);
  });

  it("rounds BF16 to nearest even", () => {
    expect(encodeHalf("BF16", 1 + 2 ** -8)).toBe(0x3f80); // halfway, even neighbour below
    expect(encodeHalf("BF16", 1 + 3 * 2 ** -8)).toBe(0x3f82); // halfway, odd neighbour: up
    expect(encodeHalf("BF16", 1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // past halfway
  });

  it("decodes what it encodes, including subnormals and signs", () => {
    for (const value of [0, 1, -1, 0.5, 65504, 2 ** -24, -(2 ** -20), 1234, 0.0999755859375]) {
      expect(decodeHalf("F16", encodeHalf("F16", value))).toBe(value);
    }
    for (const value of [0, 1, -3, 2 ** -130, 3.5e38]) {
      expect(decodeHalf("BF16", encodeHalf("BF16", value))).toBe(
        Math.fround(value) === value ? value : Math.fround(value),
      );
    }
    expect(decodeHalf("F16", 0xfc00)).toBe(-Infinity);
    expect(decodeHalf("F16", 0x7e00)).toBeNaN();
    expect(decodeHalf("BF16", encodeHalf("BF16", Number.NaN))).toBeNaN();
  });
});
