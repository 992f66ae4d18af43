import { toFloat16Bits } from "../gguf/float16.ts";

export type HalfDtype = "F16" | "BF16";

const scratch = new DataView(new ArrayBuffer(4));

/** The 16 bits a safetensors file stores for `value` (round to nearest, ties to even). */
export function encodeHalf(dtype: HalfDtype, value: number): number {
  if (dtype === "F16") return toFloat16Bits(value);
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  if (Number.isNaN(value)) return (bits >>> 16) | 0x40;
  // bfloat16 keeps the upper half of a float32; round the dropped half to nearest even.
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The value 16 stored bits stand for. */
export function decodeHalf(dtype: HalfDtype, bits: number): number {
  if (dtype === "BF16") {
    scratch.setUint32(0, bits << 16);
    return scratch.getFloat32(0);
  }
  const magnitude = bits & 0x7fff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (magnitude >= 0x7c00) return magnitude === 0x7c00 ? sign * Infinity : Number.NaN;
  // Subnormals (exponent field 0) are m·2^-24; normals are (1024 + m)·2^(e-25).
  return magnitude < 0x0400
    ? sign * magnitude * 2 ** -24
    : sign * (1024 + (magnitude & 0x3ff)) * 2 ** ((magnitude >> 10) - 25);
}
