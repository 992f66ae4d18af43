import { float32ArrayToFloat16Bits, toFloat16Bits } from "../lora/float16-bits.ts";

/**
 * Tensor data in the stored types: F32 as is, F16 bits, and Q8_0 blocks — our own Q8_0 writer, bit-exact with ggml's
 * reference quantizer (quantize_row_q8_0_ref) and gguf-py's Q8_0: per block of 32 values, d = max|x| / 127 in float32,
 * q = roundf(x · (1/d)) (half away from zero), stored as the f16 d then 32 int8.
 */
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
  for (let block = 0; block * 32 < values.length; block++) {
    const start = block * 32;
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(values[start + i]!));
    const d = Math.fround(amax / 127);
    const inverse = d === 0 ? 0 : Math.fround(1 / d);
    const base = block * 34;
    view.setUint16(base, toFloat16Bits(d), true);
    for (let i = 0; i < 32; i++) {
      const x = Math.fround(values[start + i]! * inverse);
      view.setInt8(base + 2 + i, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
  return out;
}
