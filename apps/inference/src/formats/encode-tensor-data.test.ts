import { describe, expect, it } from "vitest";
import { encodeF16, encodeQ8_0 } from "./encode-tensor-data.ts";

function decodeQ8_0(bytes: Uint8Array): { d: number; q: number[] }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks = [];
  for (let at = 0; at < bytes.length; at += 34) {
    blocks.push({ d: view.getUint16(at, true), q: Array.from({ length: 32 }, (_, i) => view.getInt8(at + 2 + i)) });
  }
  return blocks;
}

describe("encodeQ8_0", () => {
  it("scales each block of 32 by max|x| / 127 (stored as f16) and rounds half away from zero", () => {
    const values = new Float32Array(64);
    values.set([127, -63.5, 0.5, -0.5, 1.5, 2.5], 0); // d = 1: ties round away from zero
    // Second block all zero: d = 0, q = 0.
    const [first, second] = decodeQ8_0(encodeQ8_0(values));
    expect(first!.d).toBe(0x3c00); // 1.0 in f16
    expect(first!.q.slice(0, 6)).toEqual([127, -64, 1, -1, 2, 3]);
    expect(second).toEqual({ d: 0, q: new Array(32).fill(0) });
  });

  it("computes in float32 like ggml's reference quantizer", () => {
    // amax 0.9079341888427734: in float32, 0.27523988485336304 · (1/d) is 38.499996 and rounds to 38; with d and 1/d
    // in double it would be exactly 38.5, rounding to 39.
    const values = new Float32Array(32);
    values[0] = 0.9079341888427734;
    values[1] = 0.27523988485336304;
    const [block] = decodeQ8_0(encodeQ8_0(values));
    expect(block!.q.slice(0, 2)).toEqual([127, 38]);
  });

  it("refuses rows that are not whole blocks", () => {
    expect(() => encodeQ8_0(new Float32Array(48))).toThrow(/multiple of 32/);
  });
});

describe("encodeF16", () => {
  it("writes IEEE half bits, rounding to nearest even", () => {
    const bits = new Uint16Array(encodeF16(Float32Array.from([1, -2, 65504, 1 + 2 ** -11])).buffer);
    expect(Array.from(bits)).toEqual([0x3c00, 0xc000, 0x7bff, 0x3c00]);
  });
});
