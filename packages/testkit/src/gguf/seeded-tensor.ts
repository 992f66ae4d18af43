import { toFloat16Bits } from "./float16.ts";
import { unitRandom } from "./prng.ts";
import type { GgmlType, GgufTensor } from "./writer.ts";

/** Produces a tensor's element at `index` (flat, in storage order), drawing from `random` if needed. */
export type ValueFn = (index: number, random: () => number) => number;

/** Standard-normal draws times `std`. */
export const scaled =
  (std: number): ValueFn =>
  (_index, random) =>
    random() * std;

/**
 * A tensor filled in storage order by `value`, then passed through `edit` (which may change the values in place or
 * return new ones). Each fill starts a fresh random stream seeded from the model seed and the tensor name, so tensors
 * are independent of each other and refilling gives the same bytes.
 */
export function seededTensor(
  name: string,
  dims: number[],
  type: GgmlType,
  seed: number,
  value: ValueFn,
  edit?: (values: Float32Array) => Float32Array,
): GgufTensor {
  const draw = (length: number) => {
    const random = unitRandom(seed, name);
    const values = new Float32Array(length);
    for (let i = 0; i < length; i++) values[i] = value(i, random);
    return edit ? edit(values) : values;
  };
  if (type === "f32" || type === "q8_0")
    return { name, dims, type, fill: (data: Float32Array) => data.set(draw(data.length)) };
  const fill = (data: Uint16Array) => {
    const values = draw(data.length);
    for (let i = 0; i < data.length; i++) data[i] = toFloat16Bits(values[i]!);
  };
  return { name, dims, type, fill };
}

/** llama.cpp's `general.file_type` (llama_ftype) for a model whose matrices are all of one type. */
export const FILE_TYPE: Record<GgmlType, number> = { f32: 0, f16: 1, q8_0: 7 };
