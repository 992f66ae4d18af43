import * as v from "valibot";
import { SafetensorsFormatError } from "./errors.ts";

/**
 * Reader for the safetensors format (https://github.com/huggingface/safetensors#format):
 *   u64 little-endian header length N, N bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]}}`
 *   (plus an optional `__metadata__` string map), then the data; offsets are relative to the first byte after the
 *   header, end exclusive, data little-endian and row-major.
 * Hand-written: there is no maintained safetensors reader on npm, and LoRA files need only the three float dtypes.
 */

export type SafetensorsDtype = "F32" | "F16" | "BF16";

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  /** PyTorch order: shape[0] is the slowest-varying dimension. */
  shape: readonly number[];
}

export interface SafetensorsFile {
  /** The optional `__metadata__` map. */
  metadata: Readonly<Record<string, string>>;
  tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** The tensor's elements in row-major order, widened to float32. Throws for an unknown name. */
  read(name: string): Float32Array;
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
// The limit the reference implementation enforces; also keeps a hostile length from allocating gigabytes.
const MAX_HEADER_BYTES = 100_000_000;

const Dimension = v.pipe(v.number(), v.integer(), v.minValue(0));
const TensorEntry = v.object({
  dtype: v.string(),
  shape: v.array(Dimension),
  data_offsets: v.tuple([Dimension, Dimension]),
});
const Metadata = v.record(v.string(), v.string());

/** Parses and bounds-checks the header; tensor data is decoded lazily by `read`. */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) throw new SafetensorsFormatError(`the file is ${bytes.length} bytes, shorter than its 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsFormatError(`the header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes`);
  const dataStart = 8 + Number(headerLength);
  if (dataStart > bytes.length) {
    throw new SafetensorsFormatError(`the header claims ${headerLength} bytes but the file has ${bytes.length - 8} after the length (truncated?)`);
  }

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch {
    throw new SafetensorsFormatError("the header is not UTF-8 JSON");
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new SafetensorsFormatError("the header is not a JSON object");
  }

  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo & { begin: number; end: number }>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      const parsed = v.safeParse(Metadata, raw);
      if (!parsed.success) throw new SafetensorsFormatError("__metadata__ is not a map of strings");
      metadata = parsed.output;
      continue;
    }
    const parsed = v.safeParse(TensorEntry, raw);
    if (!parsed.success) throw new SafetensorsFormatError(`tensor ${name}: expected {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: [begin, end] } = parsed.output;
    if (!isSupportedDtype(dtype)) {
      throw new SafetensorsFormatError(`tensor ${name} has dtype ${dtype}; LoRA weights must be F32, F16 or BF16`);
    }
    if (begin > end || end > dataLength) {
      throw new SafetensorsFormatError(`tensor ${name}: data_offsets [${begin}, ${end}] fall outside the ${dataLength} data bytes`);
    }
    const elements = shape.reduce((product, dim) => product * dim, 1);
    if (end - begin !== elements * BYTES_PER_ELEMENT[dtype]) {
      throw new SafetensorsFormatError(`tensor ${name}: ${end - begin} bytes do not hold shape [${shape.join(", ")}] of ${dtype}`);
    }
    tensors.set(name, { dtype, shape, begin: dataStart + begin, end: dataStart + end });
  }

  return {
    metadata,
    tensors,
    read(name) {
      const tensor = tensors.get(name);
      if (!tensor) throw new SafetensorsFormatError(`there is no tensor ${name}`);
      return decode(view, tensor.dtype, tensor.begin, tensor.end);
    },
  };
}

function isSupportedDtype(dtype: string): dtype is SafetensorsDtype {
  return Object.hasOwn(BYTES_PER_ELEMENT, dtype);
}

// Decoded through a DataView: tensor data need not be aligned, and the file is little-endian whatever the platform.
function decode(view: DataView, dtype: SafetensorsDtype, begin: number, end: number): Float32Array {
  const out = new Float32Array((end - begin) / BYTES_PER_ELEMENT[dtype]);
  if (dtype === "F32") {
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(begin + i * 4, true);
  } else if (dtype === "F16") {
    for (let i = 0; i < out.length; i++) out[i] = float16ToNumber(view.getUint16(begin + i * 2, true));
  } else {
    // bfloat16 is the upper half of a float32.
    const widened = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) widened[i] = view.getUint16(begin + i * 2, true) << 16;
  }
  return out;
}

function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
