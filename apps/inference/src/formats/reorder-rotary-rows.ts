import { ShapeMismatchError } from "./errors.ts";

/**
 * Reorders the rows of a row-major matrix the way llama.cpp's converter reorders q_proj/k_proj rows for llama's
 * RoPE (rotating adjacent pairs instead of the two halves of each head): inside each head of size hd, output row
 * `i*2 + j` takes source row `j*(hd/2) + i`. Returns a new matrix.
 */
export function reorderRotaryRows(matrix: Float32Array, columns: number, heads: number): Float32Array {
  const rows = matrix.length / columns;
  const headSize = rows / heads;
  if (!Number.isInteger(rows) || !Number.isInteger(headSize) || headSize % 2 !== 0) {
    throw new ShapeMismatchError(`${rows} rows cannot be split into ${heads} heads of an even size`);
  }
  const half = headSize / 2;
  const out = new Float32Array(matrix.length);
  for (let head = 0; head < heads; head++) {
    const base = head * headSize;
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (base + j * half + i) * columns;
        out.set(matrix.subarray(from, from + columns), (base + i * 2 + j) * columns);
      }
    }
  }
  return out;
}
