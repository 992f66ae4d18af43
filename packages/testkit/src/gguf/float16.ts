// Scratch views for reinterpreting a float32's bits without allocating per call.
const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/**
 * Converts a number to IEEE 754 binary16 bits (what ggml calls F16), rounding to
 * nearest-even like numpy/ggml do. The value is first rounded to float32, then
 * narrowed: overflow becomes ±Infinity, tiny values become subnormals or ±0.
 */
export function toFloat16Bits(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;

  if (exponent === 0xff) {
    // Infinity keeps a zero mantissa; any NaN becomes a quiet NaN.
    return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  }

  // Re-bias the exponent from float32 (127) to float16 (15).
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;

  if (halfExponent <= 0) {
    // Subnormal half: value = m * 2^-24 with m < 1024. Below half the smallest
    // subnormal (2^-25) everything rounds to zero.
    if (halfExponent < -10) return sign;
    const full = mantissa | 0x800000; // restore the implicit leading 1
    const shift = 14 - halfExponent;
    return sign | roundShift(full, shift);
  }

  // Normal half: drop 13 mantissa bits. A rounding carry may ripple into the
  // exponent, which is exactly right (up to and including Infinity).
  return (sign | (halfExponent << 10)) + roundShift(mantissa, 13);
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const truncated = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return remainder > half || (remainder === half && (truncated & 1) === 1) ? truncated + 1 : truncated;
}
