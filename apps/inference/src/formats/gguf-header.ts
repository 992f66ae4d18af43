/**
 * The header of a GGUF v3 file (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), for writers that then
 * stream the tensor data themselves. Hand-written: no npm package writes GGUF tensors (@huggingface/gguf only reads
 * and rewrites metadata). Layout, little-endian: "GGUF", u32 version 3, u64 tensor count, u64 KV count; each KV as
 * key string, u32 type, value; each tensor info as name string, u32 dims, u64 per dim (ne0 first), u32 ggml type,
 * u64 offset; zero padding to the alignment; then the data, each tensor padded to the alignment. A string is a u64
 * length and its bytes.
 */

export type GgufValue =
  | { type: "uint32"; value: number }
  | { type: "int32"; value: number }
  | { type: "float32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly (string | Uint8Array)[] }
  | { type: "int32[]"; value: ArrayLike<number> }
  | { type: "float32[]"; value: ArrayLike<number> };

/** The tensor types our writers produce, with ggml's ids and block sizes. */
export const GGML_TYPES = {
  f32: { id: 0, blockElements: 1, blockBytes: 4 },
  f16: { id: 1, blockElements: 1, blockBytes: 2 },
  q8_0: { id: 8, blockElements: 32, blockBytes: 34 },
} as const;
export type GgmlTensorType = keyof typeof GGML_TYPES;

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] (ne0) is the row length. */
  dims: readonly number[];
  type: GgmlTensorType;
}

export interface GgufHeader {
  /** Header bytes including the padding up to the data section. */
  bytes: Uint8Array;
  /** Each tensor's byte size without padding, and its padded size, in info order. */
  sizes: { bytes: number; padded: number }[];
  /** Total file size. */
  fileSize: number;
}

const TYPE_ID = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10 } as const;
const encoder = new TextEncoder();

/** The byte size of a tensor of this type and shape. */
export function tensorByteSize(info: GgufTensorInfo): number {
  const { blockElements, blockBytes } = GGML_TYPES[info.type];
  const elements = info.dims.reduce((product, dim) => product * dim, 1);
  if (info.dims[0]! % blockElements !== 0)
    throw new RangeError(`${info.name}: ${info.type} needs rows of a multiple of ${blockElements}`);
  return (elements / blockElements) * blockBytes;
}

/** Encodes metadata and tensor infos with offsets for tensors laid back to back, each padded to `alignment`. */
export function encodeGgufHeader(
  metadata: Readonly<Record<string, GgufValue>>,
  tensors: readonly GgufTensorInfo[],
  alignment = 32,
): GgufHeader {
  const out = new ByteSink();
  out.u32(0x46554747); // "GGUF"
  out.u32(3);
  out.u64(tensors.length);
  const entries = Object.entries(metadata);
  out.u64(entries.length + (alignment === 32 ? 0 : 1));
  for (const [key, value] of entries) {
    out.string(key);
    writeValue(out, value);
  }
  if (alignment !== 32) {
    out.string("general.alignment");
    writeValue(out, { type: "uint32", value: alignment });
  }
  const sizes: GgufHeader["sizes"] = [];
  let offset = 0;
  for (const tensor of tensors) {
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const dim of tensor.dims) out.u64(dim);
    out.u32(GGML_TYPES[tensor.type].id);
    out.u64(offset);
    const bytes = tensorByteSize(tensor);
    const padded = alignUp(bytes, alignment);
    sizes.push({ bytes, padded });
    offset += padded;
  }
  const headerSize = alignUp(out.length, alignment);
  const bytes = new Uint8Array(headerSize);
  bytes.set(out.bytes());
  return { bytes, sizes, fileSize: headerSize + offset };
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function writeValue(out: ByteSink, entry: GgufValue): void {
  switch (entry.type) {
    case "uint32":
      out.u32(TYPE_ID.uint32);
      out.u32(entry.value);
      return;
    case "int32":
      out.u32(TYPE_ID.int32);
      out.i32(entry.value);
      return;
    case "float32":
      out.u32(TYPE_ID.float32);
      out.f32(entry.value);
      return;
    case "bool":
      out.u32(TYPE_ID.bool);
      out.u8(entry.value ? 1 : 0);
      return;
    case "string":
      out.u32(TYPE_ID.string);
      out.string(entry.value);
      return;
    case "string[]":
      out.u32(TYPE_ID.array);
      out.u32(TYPE_ID.string);
      out.u64(entry.value.length);
      for (const item of entry.value) out.string(item);
      return;
    case "int32[]":
      out.u32(TYPE_ID.array);
      out.u32(TYPE_ID.int32);
      out.u64(entry.value.length);
      for (let i = 0; i < entry.value.length; i++) out.i32(entry.value[i]!);
      return;
    case "float32[]":
      out.u32(TYPE_ID.array);
      out.u32(TYPE_ID.float32);
      out.u64(entry.value.length);
      for (let i = 0; i < entry.value.length; i++) out.f32(entry.value[i]!);
      return;
  }
}

/** A growable little-endian byte buffer. */
class ByteSink {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  u8(value: number): void {
    this.reserve(1).setUint8(this.length, value);
    this.length += 1;
  }
  u32(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${value} is not a uint32`);
    this.reserve(4).setUint32(this.length, value, true);
    this.length += 4;
  }
  i32(value: number): void {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff)
      throw new RangeError(`${value} is not an int32`);
    this.reserve(4).setInt32(this.length, value, true);
    this.length += 4;
  }
  f32(value: number): void {
    this.reserve(4).setFloat32(this.length, value, true);
    this.length += 4;
  }
  u64(value: number): void {
    this.reserve(8).setBigUint64(this.length, BigInt(value), true);
    this.length += 8;
  }
  string(text: string | Uint8Array): void {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    this.u64(bytes.length);
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
  private reserve(size: number): DataView {
    if (this.length + size > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + size));
      grown.set(this.bytes());
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    return this.view;
  }
}
