import { describe, expect, it } from "vitest";
import { float32ArrayToFloat16Bits, toFloat16Bits } from "./float16-bits.ts";

describe("toFloat16Bits", () => {
  // The bit patterns listed in docs/lora-format.md, then edge cases of the rounding.
  it.each([
    [1, 0x3c00],
    [-1, 0xbc00],
    [0.1, 0x2e66],
    [65504, 0x7bff],
    [65520, 0x7c00],
    [6.1e-5, 0x03ff],
    [5.96e-8, 0x0001],
    [0, 0x0000],
    [-0, 0x8000],
    [65519, 0x7bff], // just below the halfway point to 2^16
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -14 - 2 ** -25, 0x0400], // a subnormal count that rounds up into the normals
    [2 ** -25, 0x0000], // half the smallest subnormal: ties to even (zero)
    [3 * 2 ** -25, 0x0002], // 1.5 subnormal units: ties to even (2)
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: ties to even
    [1 + 3 * 2 ** -11, 0x3c02], // halfway with an odd neighbour: rounds up
    [2047.9, 0x6800], // a fraction carry bumps the exponent: 2048
    [-Infinity, 0xfc00],
  ])("%d -> 0x%s", (value, bits) => {
    expect(toFloat16Bits(value).toString(16)).toBe(bits.toString(16));
  });

  it("maps NaN to a quiet NaN", () => {
    expect(toFloat16Bits(Number.NaN)).toBe(0x7e00);
  });

  it("is exact for every power of two a half can hold", () => {
    for (let exponent = -24; exponent <= 15; exponent++) {
      const expected = exponent < -14 ? 1 << (exponent + 24) : (exponent + 15) << 10;
      expect([exponent, toFloat16Bits(2 ** exponent)]).toEqual([exponent, expected]);
    }
  });
});

describe("float32ArrayToFloat16Bits", () => {
  it("gives toFloat16Bits' bits for every float32, including subnormals, ties, overflow and NaN", () => {
    const values = new Float32Array(20000);
    let state = 7;
    for (let i = 0; i < values.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      values[i] = ((state / 2 ** 32) * 2 - 1) * 2 ** ((i % 48) - 30);
    }
    values.set([
      0,
      -0,
      65504,
      65519,
      65520,
      1e9,
      -Infinity,
      Number.NaN,
      2 ** -25,
      3 * 2 ** -25,
      2 ** -14 - 2 ** -25,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      2047.9,
    ]);
    const fast = float32ArrayToFloat16Bits(values);
    const slow = Array.from(values, (value) => toFloat16Bits(value));
    expect(Array.from(fast).findIndex((bits, i) => bits !== slow[i])).toBe(-1);
  });
});
