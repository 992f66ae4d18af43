import {
  moduleScaling,
  pairLoraTensors,
  parseAdapterConfig,
  readSafetensors,
  refuseUnrepresentable,
} from "../formats/index.ts";
import { MergeAdapterError } from "./errors.ts";

/** One adapted weight: W[out][in] += scale · (B·A)[out][in] (for an embedding, the transpose of B·A). */
export interface MergeDelta {
  module: string;
  scale: number;
  rank: number;
  /** lora_A (r, in) or lora_embedding_A (r, vocab), row-major. */
  a: Float32Array;
  /** lora_B (out, r) or lora_embedding_B (hidden, r), row-major. */
  b: Float32Array;
  embedding: boolean;
}

/**
 * Reads a PEFT LoRA adapter for LORA_MERGE: the deltas keyed by the Hugging Face weight they change
 * (`<module>.weight`), with PEFT's scaling (alpha / r, rsLoRA, rank and alpha patterns) as moduleScaling computes it
 * (formats/peft/). The same refusals as the GGUF adapter conversion (DoRA, biases, modules_to_save, fan_in_fan_out,
 * ...).
 */
export function readAdapterForMerge(
  adapterConfig: Uint8Array | string,
  safetensors: Uint8Array,
  baseShapes: ReadonlyMap<string, readonly number[]>,
): Map<string, MergeDelta> {
  const config = parseAdapterConfig(adapterConfig);
  refuseUnrepresentable(config);
  const file = readSafetensors(safetensors);
  const pairs = pairLoraTensors(file, config, (module) => baseShapes.has(`${module}.weight`));

  const deltas = new Map<string, MergeDelta>();
  for (const [module, { a, b, embedding }] of pairs) {
    const [rank, inputs] = file.tensors.get(a)!.shape as [number, number];
    const [outputs, rankB] = file.tensors.get(b)!.shape as [number, number];
    const base = baseShapes.get(`${module}.weight`)!;
    // Linear W (out, in); an embedding (vocab, hidden) is changed by (B·A)ᵀ with A (r, vocab), B (hidden, r).
    const [rows, columns] = embedding ? [inputs, outputs] : [outputs, inputs];
    if (rankB !== rank || base.length !== 2 || base[0] !== rows || base[1] !== columns) {
      throw new MergeAdapterError(
        `${module}: A ${rank}x${inputs} and B ${outputs}x${rankB} do not fit the weight's shape [${base.join(", ")}]`,
      );
    }
    const scaling = moduleScaling(config, module);
    if (scaling.rank !== rank)
      throw new MergeAdapterError(`${module} has rank ${rank} in the weights but ${scaling.rank} in the config`);
    const values = [file.read(a), file.read(b)];
    if (!values.every((array) => array.every(Number.isFinite)))
      throw new MergeAdapterError(`${module} holds NaN or infinite values`);
    deltas.set(`${module}.weight`, { module, scale: scaling.scale, rank, a: values[0]!, b: values[1]!, embedding });
  }
  return deltas;
}

/** Adds the delta to rows [firstRow, firstRow + rows) of a row-major weight chunk with `columns` columns. */
export function addDelta(chunk: Float32Array, firstRow: number, columns: number, delta: MergeDelta): void {
  const { a, b, rank, scale, embedding } = delta;
  const rows = chunk.length / columns;
  if (!embedding) {
    // row = output o: Σk B[o][k]·A[k][column]
    for (let r = 0; r < rows; r++) {
      const bRow = (firstRow + r) * rank;
      for (let column = 0; column < columns; column++) {
        let sum = 0;
        for (let k = 0; k < rank; k++) sum += b[bRow + k]! * a[k * columns + column]!;
        chunk[r * columns + column] = chunk[r * columns + column]! + scale * sum;
      }
    }
    return;
  }
  // row = token v, column = hidden h: Σk B[h][k]·A[k][v]; A is (r, vocab).
  const vocab = a.length / rank;
  for (let r = 0; r < rows; r++) {
    const token = firstRow + r;
    for (let column = 0; column < columns; column++) {
      let sum = 0;
      for (let k = 0; k < rank; k++) sum += b[column * rank + k]! * a[k * vocab + token]!;
      chunk[r * columns + column] = chunk[r * columns + column]! + scale * sum;
    }
  }
}
