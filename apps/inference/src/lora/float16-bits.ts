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
