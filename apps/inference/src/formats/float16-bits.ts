/**
 * Narrows a number to IEEE 754 binary16 bits (ggml's F16), rounding to nearest with ties to even like numpy and
 * ggml. Overflow (from 65520 up) becomes ±Infinity, tiny values become subnormals or ±0, NaN a quiet NaN.
 * Hand-written: Node 20 has neither Float16Array nor Math.f16round.
 */
export function toFloat16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  // 65520 lies halfway between 65504 (the largest half) and 2^16, and ties round to the even neighbour, Infinity.
  if (magnitude >= 65520) return sign | 0x7c00;
  // Subnormal range: a count of 2^-24 units. A count of 1024 is exactly the smallest normal, 0x0400.
  if (magnitude < 2 ** -14) return sign | roundHalfToEven(magnitude * 2 ** 24);
  let exponent = Math.floor(Math.log2(magnitude));
  // Math.log2 may be off by one right at a power of two.
  if (2 ** exponent > magnitude) exponent -= 1;
  else if (2 ** (exponent + 1) <= magnitude) exponent += 1;
  // 10 fraction bits; a fraction that rounds up to 1024 carries into the exponent, which is the right result.
  const fraction = roundHalfToEven((magnitude / 2 ** exponent - 1) * 1024);
  return sign | (((exponent + 15) << 10) + fraction);
}

function roundHalfToEven(value: number): number {
  const floor = Math.floor(value);
  const rest = value - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

/**
 * The F16 bits of every float32 in `values`, from their bit patterns (the same results as toFloat16Bits, which they
 * already are float32 for, at a fraction of the cost: converters narrow hundreds of millions of weights).
 */
export function float32ArrayToFloat16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    const mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = mantissa === 0 ? sign | 0x7c00 : 0x7e00;
      continue;
    }
    const halfExponent = exponent - 112; // re-biased from 127 to 15
    if (halfExponent >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (halfExponent <= 0) {
      // Subnormal: value = m · 2^-24; below 2^-25 everything rounds to zero.
      if (halfExponent < -10) out[i] = sign;
      else out[i] = sign | roundShift(mantissa | 0x800000, 14 - halfExponent);
    } else {
      // Drop 13 mantissa bits; a rounding carry ripples into the exponent (up to Infinity), which is right.
      out[i] = (sign | (halfExponent << 10)) + roundShift(mantissa, 13);
    }
  }
  return out;
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const truncated = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return remainder > half || (remainder === half && (truncated & 1) === 1) ? truncated + 1 : truncated;
}

let halfTable: Float32Array | undefined;

/** The value of F16 bits, from a table of all 65536 (built on first use). */
export function float16BitsToNumber(bits: number): number {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) {
      const sign = b & 0x8000 ? -1 : 1;
      const exponent = (b >> 10) & 0x1f;
      const fraction = b & 0x3ff;
      halfTable[b] =
        exponent === 0
          ? sign * fraction * 2 ** -24
          : exponent === 0x1f
            ? fraction === 0
              ? sign * Infinity
              : Number.NaN
            : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
    }
  }
  return halfTable[bits & 0xffff]!;
}
