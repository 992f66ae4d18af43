/**
 * The row reorder llama.cpp's converter (convert_hf_to_gguf.py, LlamaModel.permute) applies to q_proj / k_proj of
 * llama models, written as the numpy it is: `w.reshape(heads, 2, rows / heads / 2, columns).swapaxes(1, 2)
 * .reshape(w.shape)`. Deliberately independent of the adapter converter's own implementation, so the LoRA proof
 * checks one against the other. Returns a new row-major [rows][columns] matrix.
 */
export function permuteForLlamaRope(weights: Float32Array, rows: number, columns: number, heads: number): Float32Array {
  const half = rows / heads / 2;
  if (!Number.isInteger(half)) throw new RangeError(`${rows} rows do not split into ${heads} heads of an even size`);
  const out = new Float32Array(weights.length);
  // out[h][i][j][c] over shape (heads, half, 2, columns) = in[h][j][i][c] over shape (heads, 2, half, columns)
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        for (let c = 0; c < columns; c++) {
          out[((h * half + i) * 2 + j) * columns + c] = weights[((h * 2 + j) * half + i) * columns + c]!;
        }
      }
    }
  }
  return out;
}
