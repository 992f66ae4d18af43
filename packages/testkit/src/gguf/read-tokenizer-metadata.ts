import { open } from "node:fs/promises";
import type { GgufMetadata, GgufMetadataValue } from "./writer.ts";

/**
 * Reads every `tokenizer.*` entry of a GGUF file with its stored type, keeping token strings that are not valid UTF-8
 * on their own as their bytes (a byte-level vocabulary has such pieces; decoding them to text would turn distinct
 * tokens into the same replacement character). Hand-written because @huggingface/gguf decodes every string.
 */
export async function readTokenizerMetadata(path: string): Promise<GgufMetadata> {
  const file = await open(path, "r");
  try {
    const { size } = await file.stat();
    // Vocab-only files are small; for a full model only the header is read (it holds all metadata).
    const bytes = new Uint8Array(Math.min(size, 64 * 1024 * 1024));
    await file.read(bytes, 0, bytes.length, 0);
    return parseTokenizerMetadata(bytes);
  } finally {
    await file.close();
  }
}

// gguf_type ids
const UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12;
// ignoreBOM keeps a leading U+FEFF: tokens "\uFEFF//" and "//" are different tokens.
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function parseTokenizerMetadata(bytes: Uint8Array): GgufMetadata {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const u32 = () => {
    at += 4;
    return view.getUint32(at - 4, true);
  };
  const u64 = () => {
    at += 8;
    return Number(view.getBigUint64(at - 8, true));
  };
  const rawString = () => {
    const length = u64();
    at += length;
    return bytes.subarray(at - length, at);
  };
  const text = (raw: Uint8Array): string | Uint8Array => {
    try {
      return strict.decode(raw);
    } catch {
      return raw.slice();
    }
  };
  const scalar = (type: number): number | bigint | boolean => {
    switch (type) {
      case UINT8:
        return bytes[(at += 1) - 1]!;
      case INT8:
        return view.getInt8((at += 1) - 1);
      case UINT16:
        return view.getUint16((at += 2) - 2, true);
      case INT16:
        return view.getInt16((at += 2) - 2, true);
      case UINT32:
        return view.getUint32((at += 4) - 4, true);
      case INT32:
        return view.getInt32((at += 4) - 4, true);
      case FLOAT32:
        return view.getFloat32((at += 4) - 4, true);
      case BOOL:
        return bytes[(at += 1) - 1] !== 0;
      case UINT64:
        return view.getBigUint64((at += 8) - 8, true);
      case INT64:
        return view.getBigInt64((at += 8) - 8, true);
      case FLOAT64:
        return view.getFloat64((at += 8) - 8, true);
    }
    throw new Error(`GGUF value type ${type} is not supported`);
  };

  if (u32() !== 0x46554747) throw new Error("not a GGUF file");
  const version = u32();
  if (version < 2) throw new Error(`GGUF version ${version} is not supported`);
  u64(); // tensor count
  const count = u64();
  const entries: Record<string, GgufMetadataValue> = {};
  for (let i = 0; i < count; i++) {
    const key = strict.decode(rawString());
    const type = u32();
    let value: GgufMetadataValue;
    if (type === STRING) {
      const raw = rawString();
      value = { type: "string", value: strict.decode(raw) };
    } else if (type === ARRAY) {
      const itemType = u32();
      const length = u64();
      if (itemType === STRING) {
        const items: (string | Uint8Array)[] = [];
        for (let j = 0; j < length; j++) items.push(text(rawString()));
        value = { type: "string[]", value: items };
      } else {
        const items: number[] = [];
        for (let j = 0; j < length; j++) items.push(Number(scalar(itemType)));
        const kind =
          itemType === FLOAT32 || itemType === FLOAT64
            ? "float32[]"
            : itemType === UINT32 || itemType === UINT8 || itemType === UINT16
              ? "uint32[]"
              : "int32[]";
        value = { type: kind, value: items };
      }
    } else {
      const item = scalar(type);
      value =
        type === BOOL
          ? { type: "bool", value: item as boolean }
          : type === FLOAT32 || type === FLOAT64
            ? { type: "float32", value: item as number }
            : type === UINT64 || type === INT64
              ? { type: "uint64", value: item as bigint }
              : type === INT8 || type === INT16 || type === INT32
                ? { type: "int32", value: item as number }
                : { type: "uint32", value: item as number };
    }
    if (key.startsWith("tokenizer.")) entries[key] = value;
  }
  return entries;
}
