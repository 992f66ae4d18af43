import * as v from "valibot";
import { SafetensorsFormatError } from "./errors.ts";
import { float16BitsToNumber } from "./float16-bits.ts";

/**
 * Reader for the safetensors format (https://github.com/huggingface/safetensors#format):
 *   u64 little-endian header length N, N bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]}}`
 *   (plus an optional `__metadata__` string map), then the data; offsets are relative to the first byte after the
 *   header, end exclusive, data little-endian and row-major.
 * Hand-written: there is no maintained safetensors reader on npm, and the weights we read need only the three float
 * dtypes. `parseSafetensorsHeader` and `decodeSafetensorsData` also serve the transformers converter, which reads
 * tensors from files piece by piece instead of holding them in memory.
 */

export type SafetensorsDtype = "F32" | "F16" | "BF16";

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  /** PyTorch order: shape[0] is the slowest-varying dimension. */
  shape: readonly number[];
}

/** A tensor's header entry; begin/end are byte offsets into the data section (after the header), end exclusive. */
export interface SafetensorsEntry extends SafetensorsTensorInfo {
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Readonly<Record<string, string>>;
  tensors: ReadonlyMap<string, SafetensorsEntry>;
}

export interface SafetensorsFile {
  /** The optional `__metadata__` map. */
  metadata: Readonly<Record<string, string>>;
  tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** The tensor's elements in row-major order, widened to float32. Throws for an unknown name. */
  read(name: string): Float32Array;
}

export const BYTES_PER_ELEMENT: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2 };
// The limit the reference implementation enforces; also keeps a hostile length from allocating gigabytes.
export const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const Dimension = v.pipe(v.number(), v.integer(), v.minValue(0));
const TensorEntry = v.object({
  dtype: v.string(),
  shape: v.array(Dimension),
  data_offsets: v.tuple([Dimension, Dimension]),
});
const Metadata = v.record(v.string(), v.string());

/** Parses and bounds-checks the header; tensor data is decoded lazily by `read`. */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  const dataStart = 8 + headerLength(bytes, bytes.length);
  if (dataStart > bytes.length) {
    throw new SafetensorsFormatError(
      `the header claims ${dataStart - 8} bytes but the file has ${bytes.length - 8} after the length (truncated?)`,
    );
  }
  const { metadata, tensors } = parseSafetensorsHeader(bytes.subarray(8, dataStart), bytes.length - dataStart);
  return {
    metadata,
    tensors,
    read(name) {
      const tensor = tensors.get(name);
      if (!tensor) throw new SafetensorsFormatError(`there is no tensor ${name}`);
      return decodeSafetensorsData(bytes.subarray(dataStart + tensor.begin, dataStart + tensor.end), tensor.dtype);
    },
  };
}

/** The header length the first 8 bytes announce, checked against the limit (`fileSize` for the message only). */
export function headerLength(first8: Uint8Array, fileSize: number): number {
  if (first8.length < 8 || fileSize < 8)
    throw new SafetensorsFormatError(`the file is ${fileSize} bytes, shorter than its 8-byte header length`);
  const length = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES))
    throw new SafetensorsFormatError(`the header length ${length} exceeds ${MAX_HEADER_BYTES} bytes`);
  return Number(length);
}

/**
 * Parses the JSON header (the bytes after the length) of a file whose data section is `dataLength` bytes.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLength: number): SafetensorsHeader {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch {
    throw new SafetensorsFormatError("the header is not UTF-8 JSON");
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new SafetensorsFormatError("the header is not a JSON object");
  }

  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      const parsed = v.safeParse(Metadata, raw);
      if (!parsed.success) throw new SafetensorsFormatError("__metadata__ is not a map of strings");
      metadata = parsed.output;
      continue;
    }
    const parsed = v.safeParse(TensorEntry, raw);
    if (!parsed.success) throw new SafetensorsFormatError(`tensor ${name}: expected {dtype, shape, data_offsets}`);
    const {
      dtype,
      shape,
      data_offsets: [begin, end],
    } = parsed.output;
    if (!isSupportedDtype(dtype)) {
      throw new SafetensorsFormatError(
        `tensor ${name} has dtype ${dtype}; only F32, F16 and BF16 weights are supported`,
      );
    }
    if (begin > end || end > dataLength) {
      throw new SafetensorsFormatError(
        `tensor ${name}: data_offsets [${begin}, ${end}] fall outside the ${dataLength} data bytes`,
      );
    }
    const elements = shape.reduce((product, dim) => product * dim, 1);
    if (end - begin !== elements * BYTES_PER_ELEMENT[dtype]) {
      throw new SafetensorsFormatError(
        `tensor ${name}: ${end - begin} bytes do not hold shape [${shape.join(", ")}] of ${dtype}`,
      );
    }
    tensors.set(name, { dtype, shape, begin, end });
  }
  return { metadata, tensors };
}

function isSupportedDtype(dtype: string): dtype is SafetensorsDtype {
  return Object.hasOwn(BYTES_PER_ELEMENT, dtype);
}

/**
 * Widens stored elements (little-endian, any alignment) to float32. Decoded through a DataView: tensor data need not
 * be aligned, and the file is little-endian whatever the platform.
 */
export function decodeSafetensorsData(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const out = new Float32Array(bytes.byteLength / BYTES_PER_ELEMENT[dtype]);
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 && dtype !== "F32") {
    // Aligned (a buffer of its own) on a little-endian platform: read the 16-bit elements through a typed view.
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, out.length);
    if (dtype === "F16") for (let i = 0; i < out.length; i++) out[i] = float16BitsToNumber(halves[i]!);
    else {
      const widened = new Uint32Array(out.buffer);
      for (let i = 0; i < out.length; i++) widened[i] = halves[i]! << 16;
    }
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "F32") {
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (dtype === "F16") {
    for (let i = 0; i < out.length; i++) out[i] = float16BitsToNumber(view.getUint16(i * 2, true));
  } else {
    // bfloat16 is the upper half of a float32.
    const widened = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) widened[i] = view.getUint16(i * 2, true) << 16;
  }
  return out;
}
