import { encodeF16, encodeF32, encodeGgufHeader, type GgufValue } from "../formats/index.ts";

/**
 * Writes a GGUF v3 file of the kind llama.cpp loads as a LoRA adapter: string and float32 metadata, 2-D F32 or F16
 * tensors, with the shared GGUF header encoder (formats/gguf-header.ts).
 */

export interface AdapterTensor {
  name: string;
  /** GGUF order: dims[0] (ne0) is the row length. */
  dims: readonly number[];
  /** Row-major elements; narrowed to F16 when the file's type is f16. */
  data: Float32Array;
}

export interface WriteAdapterGgufParams {
  /** Written in order; a string value as GGUF STRING, a number as FLOAT32. */
  metadata: Readonly<Record<string, string | number>>;
  tensors: readonly AdapterTensor[];
  type: "f32" | "f16";
}

export function writeAdapterGguf({ metadata, tensors, type }: WriteAdapterGgufParams): Uint8Array {
  const values: Record<string, GgufValue> = {};
  for (const [key, value] of Object.entries(metadata)) {
    values[key] = typeof value === "string" ? { type: "string", value } : { type: "float32", value };
  }
  for (const tensor of tensors) {
    const elements = tensor.dims.reduce((product, dim) => product * dim, 1);
    if (elements !== tensor.data.length) throw new RangeError(`${tensor.name}: dims do not match the data length`);
  }
  const header = encodeGgufHeader(
    values,
    tensors.map(({ name, dims }) => ({ name, dims, type })),
  );
  const file = new Uint8Array(header.fileSize); // zero-filled, which provides the padding
  file.set(header.bytes);
  let at = header.bytes.length;
  tensors.forEach((tensor, index) => {
    file.set(type === "f32" ? encodeF32(tensor.data) : encodeF16(tensor.data), at);
    at += header.sizes[index]!.padded;
  });
  return file;
}
