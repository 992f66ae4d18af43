import { generateTinyLlama } from "../gguf/tiny-llama.ts";
import { drawLoraWeights, type LoraModuleWeights, type TinyLoraOptions } from "./lora-weights.ts";

/** The base of a LoRA proof: weights drawn in Hugging Face order, q/k stored reordered like llama.cpp's converter. */
export function generateLoraBase(options: TinyLoraOptions = {}): Uint8Array {
  return generateTinyLlama({ ...options.base, rotaryReorder: true });
}

/**
 * The same base with the adapter merged by hand: W + scale · s · B·A computed in Hugging Face order (float64, then
 * stored as the base's type), then written exactly like generateLoraBase writes W.
 */
export function generateMergedLlama(options: TinyLoraOptions = {}, scale = 1): Uint8Array {
  const byTensor = new Map<string, LoraModuleWeights>(
    drawLoraWeights(options).map((module) => [module.tensor, module]),
  );
  return generateTinyLlama({
    ...options.base,
    rotaryReorder: true,
    editWeights: (name, weights, rows, columns) => {
      const module = byTensor.get(name);
      if (module) addDelta(weights, rows, columns, module, scale * module.scaling);
    },
  });
}

/** weights[row][column] += factor · (B·A)[row][column]; for an embedding, the delta is (B·A) transposed. */
function addDelta(
  weights: Float32Array,
  rows: number,
  columns: number,
  module: LoraModuleWeights,
  factor: number,
): void {
  const { a, b, rank, embedding } = module;
  const aColumns = module.aShape[1];
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      // Linear: B[row][k]·A[k][column]. Embedding (row = token, column = hidden): B[column][k]·A[k][row].
      const [bRow, aColumn] = embedding ? [column, row] : [row, column];
      let sum = 0;
      for (let k = 0; k < rank; k++) sum += b[bRow * rank + k]! * a[k * aColumns + aColumn]!;
      weights[row * columns + column] = weights[row * columns + column]! + factor * sum;
    }
  }
}
