import { encodeHalf } from "./half-precision.ts";

export type SafetensorsDtype = "F32" | "F16" | "BF16";

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  /** PyTorch order (shape[0] slowest). */
  shape: readonly number[];
  /** Row-major values; narrowed to the dtype when written. */
  data: ArrayLike<number>;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/**
 * Serializes tensors as a safetensors file (u64 header length, JSON header, data), like the reference writer:
 * tensors back to back in the given order, the header padded with spaces to a multiple of 8.
 */
export function writeSafetensors(
  tensors: readonly SafetensorsTensor[],
  metadata: Record<string, string> = { format: "pt" },
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of tensors) {
    const size = tensor.data.length * BYTES[tensor.dtype];
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20); // 8 + header stays 8-aligned
  headerBytes.set(json);
  const file = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(file.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  file.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const { dtype, data } of tensors) {
    for (let i = 0; i < data.length; i++) {
      if (dtype === "F32") view.setFloat32(at + i * 4, data[i]!, true);
      else view.setUint16(at + i * 2, encodeHalf(dtype, data[i]!), true);
    }
    at += data.length * BYTES[dtype];
  }
  return file;
}
