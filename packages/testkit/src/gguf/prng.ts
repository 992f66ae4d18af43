/** A seeded source of uniformly distributed unsigned 32-bit integers. */
export type Prng = () => number;

/**
 * mulberry32: a tiny, fast 32-bit PRNG. Not cryptographic, but plenty for
 * reproducible fake weights; the same seed always yields the same sequence.
 */
export function mulberry32(seed: number): Prng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** FNV-1a hash of a string's UTF-16 code units, used to derive sub-seeds from names. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Seeded zero-mean, unit-std random numbers. The sum of the two 16-bit halves of
 * one draw is triangular on [-1, 1] with std 1/sqrt(6): bell-shaped enough for
 * fake weights, at one PRNG call per weight.
 */
export function unitRandom(seed: number, name: string): () => number {
  const next = mulberry32(seed ^ hashString(name));
  const scale = Math.sqrt(6);
  return () => {
    const bits = next();
    return (((bits & 0xffff) + (bits >>> 16)) / 0xffff - 1) * scale;
  };
}
