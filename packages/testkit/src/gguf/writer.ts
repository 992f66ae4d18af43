/**
 * Minimal GGUF v3 writer (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).
 *
 * File layout, all little-endian:
 *   header       magic "GGUF", version u32 = 3, tensor_count u64, kv_count u64
 *   metadata     kv_count × (key string, value type u32, value)
 *   tensor infos tensor_count × (name string, n_dims u32, dims u64[n_dims], ggml type u32, offset u64)
 *   padding      zeros up to a multiple of `general.alignment`
 *   data         tensors in info order, each padded with zeros to the alignment
 * A GGUF string is a u64 byte length followed by UTF-8 bytes (no terminator).
 */

import { toFloat16Bits } from "./float16.ts";

/** Metadata value types, ids from the GGUF spec (`gguf_type`). */
const GgufValueType = {
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
} as const;

/** Tensor element types, ids from ggml's `ggml_type` enum, with their byte sizes. */
const GGML_TYPES = {
  f32: { id: 0, blockElements: 1, blockBytes: 4 },
  f16: { id: 1, blockElements: 1, blockBytes: 2 },
  // A block of 32 weights: an f16 scale d, then 32 int8 q with weight = d * q (ggml's block_q8_0).
  q8_0: { id: 8, blockElements: 32, blockBytes: 34 },
} as const;

export type GgmlType = keyof typeof GGML_TYPES;

export type GgufMetadataValue =
  | { type: "uint32"; value: number }
  | { type: "int32"; value: number }
  | { type: "float32"; value: number }
  | { type: "uint64"; value: number | bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  // Items may be raw bytes: a vocabulary's tokens are byte strings, not always valid UTF-8 on their own (Gemma 4's).
  | { type: "string[]"; value: readonly (string | Uint8Array)[] }
  | { type: "int32[]"; value: ArrayLike<number> }
  | { type: "uint32[]"; value: ArrayLike<number> }
  | { type: "float32[]"; value: ArrayLike<number> };

/** Metadata entries, written in insertion order. */
export type GgufMetadata = Readonly<Record<string, GgufMetadataValue>>;

interface GgufTensorBase {
  /** Tensor name; ggml limits it to 63 bytes. */
  name: string;
  /**
   * Shape in ggml order: `dims[0]` is the row length (the fastest-varying
   * dimension), i.e. the reverse of the numpy/PyTorch shape. At most 4 dims.
   */
  dims: readonly number[];
}

/**
 * A tensor whose data is produced in place: `fill` receives a zeroed view of
 * exactly this tensor's slice of the output buffer, so large models are written
 * without intermediate copies.
 */
export type GgufTensor =
  | (GgufTensorBase & { type: "f32"; fill: (data: Float32Array) => void })
  // F16 data is the raw IEEE 754 binary16 bit patterns (see toFloat16Bits).
  | (GgufTensorBase & { type: "f16"; fill: (data: Uint16Array) => void })
  // Q8_0 is filled with the F32 values, quantized by the writer as ggml's reference quantizer does.
  | (GgufTensorBase & { type: "q8_0"; fill: (data: Float32Array) => void });

export interface WriteGgufParams {
  metadata: GgufMetadata;
  tensors: readonly GgufTensor[];
  /**
   * Alignment of the data section and of every tensor, written as
   * `general.alignment`. A power of two, at least 4 so typed-array views on
   * tensor data are aligned. Defaults to 32, the GGUF default.
   */
  alignment?: number;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const GGUF_VERSION = 3;
const GGML_MAX_DIMS = 4;
const GGML_MAX_NAME = 64; // includes the C string terminator
const ALIGNMENT_KEY = "general.alignment";

// Tensor data is filled through typed-array views, which use the platform's byte order.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("gguf writer: only little-endian platforms are supported");
}

/** Serializes metadata and tensors to the bytes of a GGUF v3 file. */
export function writeGguf({ metadata, tensors, alignment = 32 }: WriteGgufParams): Uint8Array {
  if (!Number.isInteger(alignment) || alignment < 4 || (alignment & (alignment - 1)) !== 0) {
    throw new RangeError(`alignment must be a power of two >= 4, got ${alignment}`);
  }
  if (ALIGNMENT_KEY in metadata) {
    throw new Error(`"${ALIGNMENT_KEY}" is written by writeGguf; pass the alignment option instead`);
  }

  const layout = layoutTensors(tensors, alignment);
  const header = new ByteWriter();
  header.u32(GGUF_MAGIC);
  header.u32(GGUF_VERSION);
  header.u64(tensors.length);
  header.u64(Object.keys(metadata).length + 1);
  for (const [key, value] of Object.entries(metadata)) {
    header.string(key);
    writeValue(header, key, value);
  }
  header.string(ALIGNMENT_KEY);
  writeValue(header, ALIGNMENT_KEY, { type: "uint32", value: alignment });
  for (const { tensor, offset } of layout.entries) {
    header.string(tensor.name);
    header.u32(tensor.dims.length);
    for (const dim of tensor.dims) header.u64(dim);
    header.u32(GGML_TYPES[tensor.type].id);
    header.u64(offset);
  }

  const headerBytes = header.bytes();
  const dataStart = alignUp(headerBytes.length, alignment);
  // A fresh ArrayBuffer is zeroed, which provides all the padding bytes.
  const file = new Uint8Array(dataStart + layout.dataSize);
  file.set(headerBytes);
  for (const { tensor, offset, elements } of layout.entries) {
    const byteOffset = dataStart + offset;
    if (tensor.type === "f32") tensor.fill(new Float32Array(file.buffer, byteOffset, elements));
    else if (tensor.type === "f16") tensor.fill(new Uint16Array(file.buffer, byteOffset, elements));
    else {
      const values = new Float32Array(elements);
      tensor.fill(values);
      quantizeQ8_0(values, file.subarray(byteOffset, byteOffset + (elements / 32) * 34));
    }
  }
  return file;
}

interface TensorLayout {
  entries: { tensor: GgufTensor; offset: number; elements: number }[];
  dataSize: number;
}

/**
 * Places tensors back to back in the data section. llama.cpp requires every
 * offset to be exactly the sum of the previous tensors' sizes, each rounded up
 * to the alignment: no gaps and no reordering.
 */
function layoutTensors(tensors: readonly GgufTensor[], alignment: number): TensorLayout {
  const names = new Set<string>();
  const entries: TensorLayout["entries"] = [];
  let dataSize = 0;
  for (const tensor of tensors) {
    if (names.has(tensor.name)) throw new Error(`duplicate tensor name "${tensor.name}"`);
    names.add(tensor.name);
    if (utf8Length(tensor.name) >= GGML_MAX_NAME) {
      throw new Error(`tensor name "${tensor.name}" is longer than ${GGML_MAX_NAME - 1} bytes`);
    }
    if (tensor.dims.length < 1 || tensor.dims.length > GGML_MAX_DIMS) {
      throw new RangeError(`tensor "${tensor.name}" must have 1 to ${GGML_MAX_DIMS} dims`);
    }
    let elements = 1;
    for (const dim of tensor.dims) {
      if (!Number.isSafeInteger(dim) || dim < 1) {
        throw new RangeError(`tensor "${tensor.name}" has invalid dim ${dim}`);
      }
      elements *= dim;
    }
    const { blockElements, blockBytes } = GGML_TYPES[tensor.type];
    if (tensor.dims[0]! % blockElements !== 0) {
      throw new RangeError(
        `tensor "${tensor.name}": ${tensor.type} needs rows of a multiple of ${blockElements} values`,
      );
    }
    entries.push({ tensor, offset: dataSize, elements });
    dataSize += alignUp((elements / blockElements) * blockBytes, alignment);
  }
  return { entries, dataSize };
}

/**
 * ggml's quantize_row_q8_0_ref: per block of 32, d = max|x| / 127 and q = round(x / d), rounding half away from zero
 * (C's roundf).
 */
function quantizeQ8_0(values: Float32Array, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let block = 0; block * 32 < values.length; block++) {
    const start = block * 32;
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(values[start + i]!));
    const d = amax / 127;
    const inverse = d === 0 ? 0 : 1 / d;
    const base = block * 34;
    view.setUint16(base, toFloat16Bits(d), true);
    for (let i = 0; i < 32; i++) {
      const x = Math.fround(values[start + i]! * inverse);
      view.setInt8(base + 2 + i, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
}

function writeValue(out: ByteWriter, key: string, entry: GgufMetadataValue): void {
  switch (entry.type) {
    case "uint32":
      out.u32(GgufValueType.uint32);
      out.u32(checkUint32(key, entry.value));
      return;
    case "int32":
      out.u32(GgufValueType.int32);
      out.i32(checkInt32(key, entry.value));
      return;
    case "float32":
      out.u32(GgufValueType.float32);
      out.f32(entry.value);
      return;
    case "uint64":
      out.u32(GgufValueType.uint64);
      out.u64(entry.value);
      return;
    case "bool":
      out.u32(GgufValueType.bool);
      out.u8(entry.value ? 1 : 0);
      return;
    case "string":
      out.u32(GgufValueType.string);
      out.string(entry.value);
      return;
    case "string[]":
      out.arrayHeader(GgufValueType.string, entry.value.length);
      for (const item of entry.value) out.string(item);
      return;
    case "int32[]":
      out.arrayHeader(GgufValueType.int32, entry.value.length);
      for (let i = 0; i < entry.value.length; i++) out.i32(checkInt32(key, entry.value[i]!));
      return;
    case "uint32[]":
      out.arrayHeader(GgufValueType.uint32, entry.value.length);
      for (let i = 0; i < entry.value.length; i++) out.u32(checkUint32(key, entry.value[i]!));
      return;
    case "float32[]":
      out.arrayHeader(GgufValueType.float32, entry.value.length);
      for (let i = 0; i < entry.value.length; i++) out.f32(entry.value[i]!);
      return;
  }
}

function checkUint32(key: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`"${key}": ${value} is not a uint32`);
  }
  return value;
}

function checkInt32(key: string, value: number): number {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new RangeError(`"${key}": ${value} is not an int32`);
  }
  return value;
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

const textEncoder = new TextEncoder();

function utf8Length(text: string): number {
  return textEncoder.encode(text).length;
}

/** Growable little-endian byte buffer for the (small) header part of the file. */
class ByteWriter {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  private length = 0;

  u8(value: number): void {
    this.reserve(1).setUint8(this.length, value);
    this.length += 1;
  }

  u32(value: number): void {
    this.reserve(4).setUint32(this.length, value, true);
    this.length += 4;
  }

  i32(value: number): void {
    this.reserve(4).setInt32(this.length, value, true);
    this.length += 4;
  }

  f32(value: number): void {
    this.reserve(4).setFloat32(this.length, value, true);
    this.length += 4;
  }

  u64(value: number | bigint): void {
    const big = BigInt(value);
    if (big < 0n || big > 0xffffffffffffffffn) throw new RangeError(`${value} is not a uint64`);
    this.reserve(8).setBigUint64(this.length, big, true);
    this.length += 8;
  }

  /** GGUF string: u64 byte length, then UTF-8 bytes without a terminator. */
  string(text: string | Uint8Array): void {
    const encoded = typeof text === "string" ? textEncoder.encode(text) : text;
    this.u64(encoded.length);
    this.reserve(encoded.length);
    this.buffer.set(encoded, this.length);
    this.length += encoded.length;
  }

  /** An array value: the ARRAY type tag, then the element type and the element count. */
  arrayHeader(itemType: number, count: number): void {
    this.u32(GgufValueType.array);
    this.u32(itemType);
    this.u64(count);
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
