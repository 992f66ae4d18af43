import { float32ArrayToFloat16Bits, toFloat16Bits } from "./float16-bits.ts";

/**
 * Tensor data in the stored types: F32 as is, F16 bits, and Q8_0 blocks — our own Q8_0 writer, bit-exact with ggml's
 * reference quantizer (quantize_row_q8_0_ref) and gguf-py's Q8_0: per block of 32 values, d = max|x| / 127 in float32,
 * q = roundf(x · (1/d)) (half away from zero), stored as the f16 d then 32 int8.
 */
// F32 and F16 data are handed over as the bytes of typed arrays, which use the platform's byte order; GGUF is
// little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
  throw new Error("the GGUF writer supports little-endian platforms only");

export function encodeF32(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export function encodeF16(values: Float32Array): Uint8Array {
  return new Uint8Array(float32ArrayToFloat16Bits(values).buffer);
}

export function encodeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % 32 !== 0) throw new RangeError("Q8_0 needs a multiple of 32 values");
  const out = new Uint8Array((values.length / 32) * 34);
  const view = new DataView(out.buffer);
  const quants = new Int8Array(out.buffer);
  for (let block = 0; block * 32 < values.length; block++) {
    const start = block * 32;
    let amax = 0;
    for (let i = 0; i < 32; i++) {
      const magnitude = Math.abs(values[start + i]!);
      if (magnitude > amax) amax = magnitude;
    }
    const d = Math.fround(amax / 127);
    const inverse = d === 0 ? 0 : Math.fround(1 / d);
    const base = block * 34;
    view.setUint16(base, toFloat16Bits(d), true);
    for (let i = 0; i < 32; i++) {
      const x = Math.fround(values[start + i]! * inverse);
      // roundf: half away from zero.
      quants[base + 2 + i] = x >= 0 ? Math.floor(x + 0.5) : -Math.floor(0.5 - x);
    }
  }
  return out;
}
