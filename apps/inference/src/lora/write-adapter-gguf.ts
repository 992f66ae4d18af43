import { toFloat16Bits } from "./float16-bits.ts";

/**
 * Writes a GGUF v3 file of the kind llama.cpp loads as a LoRA adapter: string and float32 metadata, 2-D F32 or F16
 * tensors. Hand-written: no npm package writes GGUF tensors (@huggingface/gguf only rewrites metadata).
 * Layout, little-endian: "GGUF", u32 version, u64 tensor count, u64 KV count; each KV as key string, u32 type,
 * value; each tensor info as name string, u32 dims, u64 per dim (ne0 first), u32 ggml type, u64 offset; then the
 * data, starting at a multiple of 32, each tensor padded to 32. A string is a u64 length and UTF-8 bytes.
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

const ALIGNMENT = 32;
const VALUE_TYPE = { float32: 6, string: 8 } as const;
const GGML_TYPE = { f32: { id: 0, bytes: 4 }, f16: { id: 1, bytes: 2 } } as const;
const encoder = new TextEncoder();

export function writeAdapterGguf({ metadata, tensors, type }: WriteAdapterGgufParams): Uint8Array {
  const { id: typeId, bytes: elementBytes } = GGML_TYPE[type];
  const parts: Uint8Array[] = [ascii("GGUF"), uint32(3), uint64(tensors.length), uint64(Object.keys(metadata).length)];
  for (const [key, value] of Object.entries(metadata)) {
    parts.push(string(key));
    if (typeof value === "string") parts.push(uint32(VALUE_TYPE.string), string(value));
    else parts.push(uint32(VALUE_TYPE.float32), float32(value));
  }
  const offsets: number[] = [];
  let dataSize = 0;
  for (const tensor of tensors) {
    const elements = tensor.dims.reduce((product, dim) => product * dim, 1);
    if (elements !== tensor.data.length) throw new RangeError(`${tensor.name}: dims do not match the data length`);
    parts.push(string(tensor.name), uint32(tensor.dims.length), ...tensor.dims.map(uint64), uint32(typeId), uint64(dataSize));
    offsets.push(dataSize);
    dataSize += padded(elements * elementBytes);
  }

  const headerSize = parts.reduce((sum, part) => sum + part.length, 0);
  const dataStart = padded(headerSize);
  const file = new Uint8Array(dataStart + dataSize); // zero-filled, which provides the padding
  let at = 0;
  for (const part of parts) {
    file.set(part, at);
    at += part.length;
  }
  const view = new DataView(file.buffer);
  tensors.forEach((tensor, index) => {
    const start = dataStart + offsets[index]!;
    const { data } = tensor;
    if (type === "f32") for (let i = 0; i < data.length; i++) view.setFloat32(start + i * 4, data[i]!, true);
    else for (let i = 0; i < data.length; i++) view.setUint16(start + i * 2, toFloat16Bits(data[i]!), true);
  });
  return file;
}

function padded(size: number): number {
  return Math.ceil(size / ALIGNMENT) * ALIGNMENT;
}

function ascii(text: string): Uint8Array {
  return encoder.encode(text);
}

function string(text: string): Uint8Array {
  const bytes = encoder.encode(text);
  const out = new Uint8Array(8 + bytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(bytes.length), true);
  out.set(bytes, 8);
  return out;
}

function uint32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

function uint64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), true);
  return out;
}

function float32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setFloat32(0, value, true);
  return out;
}
