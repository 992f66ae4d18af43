import { GGUFValueType } from "@huggingface/gguf";
import { describe, expect, it } from "vitest";
import { toFloat16Bits } from "./float16.ts";
import { parseGguf } from "./parse-for-tests.ts";
import { writeGguf, type GgufMetadata, type GgufTensor } from "./writer.ts";

const metadata: GgufMetadata = {
  "general.architecture": { type: "string", value: "llama" },
  "test.uint32": { type: "uint32", value: 4_000_000_000 },
  "test.int32": { type: "int32", value: -7 },
  "test.float32": { type: "float32", value: 0.5 },
  "test.bool": { type: "bool", value: true },
  "test.uint64": { type: "uint64", value: 2n ** 40n },
  "test.unicode": { type: "string", value: "héllo ▁ 👋" },
  "test.strings": { type: "string[]", value: ["a", "", "▁b"] },
  "test.int32s": { type: "int32[]", value: Int32Array.of(1, -2, 3) },
  "test.uint32s": { type: "uint32[]", value: [0, 0xffffffff] },
  "test.float32s": { type: "float32[]", value: Float32Array.of(1.5, -0.25) },
};

// 3 × 2 f32 (24 bytes, padded to 32), then 5 f16 (10 bytes, padded to 32), then 1 f32.
const tensors: GgufTensor[] = [
  { name: "a.weight", dims: [3, 2], type: "f32", fill: (data) => data.set([1, 2, 3, 4, 5, 6]) },
  { name: "b.weight", dims: [5], type: "f16", fill: (data) => data.set([1, 2, 3, 4, 5].map(toFloat16Bits)) },
  { name: "c.weight", dims: [1, 1, 1, 1], type: "f32", fill: (data) => data.set([-1]) },
];

describe("writeGguf", () => {
  const bytes = writeGguf({ metadata, tensors });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  it("writes the GGUF v3 header little-endian", () => {
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("GGUF");
    expect(view.getUint32(4, true)).toBe(3);
    expect(view.getBigUint64(8, true)).toBe(3n); // tensor_count
    expect(view.getBigUint64(16, true)).toBe(BigInt(Object.keys(metadata).length + 1)); // + general.alignment
    // First key: u64 length then the bytes.
    expect(view.getBigUint64(24, true)).toBe(BigInt("general.architecture".length));
    expect(new TextDecoder().decode(bytes.subarray(32, 32 + 20))).toBe("general.architecture");
    expect(view.getUint32(52, true)).toBe(GGUFValueType.STRING);
  });

  it("round-trips every metadata type through an independent parser", async () => {
    const { metadata: parsed, typedMetadata } = await parseGguf(bytes);
    expect(parsed.version).toBe(3);
    expect(parsed.tensor_count).toBe(3n);
    expect(parsed.kv_count).toBe(12n);
    const entry = (key: string) => {
      const { value, type, subType } = typedMetadata[key]!;
      return { value, type, subType };
    };
    expect(entry("general.architecture")).toEqual({ value: "llama", type: GGUFValueType.STRING });
    expect(entry("test.uint32")).toEqual({ value: 4_000_000_000, type: GGUFValueType.UINT32 });
    expect(entry("test.int32")).toEqual({ value: -7, type: GGUFValueType.INT32 });
    expect(entry("test.float32")).toEqual({ value: 0.5, type: GGUFValueType.FLOAT32 });
    expect(entry("test.bool")).toEqual({ value: true, type: GGUFValueType.BOOL });
    expect(entry("test.uint64")).toEqual({ value: 2n ** 40n, type: GGUFValueType.UINT64 });
    expect(entry("test.unicode")).toEqual({ value: "héllo ▁ 👋", type: GGUFValueType.STRING });
    const array = (value: unknown, subType: GGUFValueType) => ({ value, type: GGUFValueType.ARRAY, subType });
    expect(entry("test.strings")).toEqual(array(["a", "", "▁b"], GGUFValueType.STRING));
    expect(entry("test.int32s")).toEqual(array([1, -2, 3], GGUFValueType.INT32));
    expect(entry("test.uint32s")).toEqual(array([0, 0xffffffff], GGUFValueType.UINT32));
    expect(entry("test.float32s")).toEqual(array([1.5, -0.25], GGUFValueType.FLOAT32));
    expect(entry("general.alignment")).toEqual({ value: 32, type: GGUFValueType.UINT32 });
  });

  it("lays tensors out back to back, aligned, with zero padding", async () => {
    const { tensorInfos, tensorDataOffset } = await parseGguf(bytes);
    expect(tensorInfos).toEqual([
      { name: "a.weight", n_dims: 2, shape: [3n, 2n], dtype: 0, offset: 0n },
      { name: "b.weight", n_dims: 1, shape: [5n], dtype: 1, offset: 32n },
      { name: "c.weight", n_dims: 4, shape: [1n, 1n, 1n, 1n], dtype: 0, offset: 64n },
    ]);
    const dataStart = Number(tensorDataOffset);
    expect(dataStart % 32).toBe(0);
    expect(bytes.length).toBe(dataStart + 96); // the last tensor is padded too

    const f32 = (offset: number, count: number) =>
      Array.from({ length: count }, (_, i) => view.getFloat32(dataStart + offset + 4 * i, true));
    const u16 = (offset: number, count: number) =>
      Array.from({ length: count }, (_, i) => view.getUint16(dataStart + offset + 2 * i, true));
    expect(f32(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(u16(32, 5)).toEqual([0x3c00, 0x4000, 0x4200, 0x4400, 0x4500]);
    expect(f32(64, 1)).toEqual([-1]);
    expect(bytes.subarray(dataStart + 24, dataStart + 32).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(dataStart + 42, dataStart + 64).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(dataStart + 68).every((b) => b === 0)).toBe(true);
  });

  it("honours a custom alignment", async () => {
    const aligned = writeGguf({ metadata, tensors, alignment: 64 });
    const { tensorInfos, tensorDataOffset, typedMetadata } = await parseGguf(aligned);
    expect(typedMetadata["general.alignment"]?.value).toBe(64);
    expect(Number(tensorDataOffset) % 64).toBe(0);
    expect(tensorInfos.map((info) => info.offset)).toEqual([0n, 64n, 128n]);
    expect(aligned.length).toBe(Number(tensorDataOffset) + 192);
  });

  it("writes a metadata-only file", async () => {
    const { metadata: parsed, tensorInfos } = await parseGguf(writeGguf({ metadata, tensors: [] }));
    expect(parsed.tensor_count).toBe(0n);
    expect(tensorInfos).toEqual([]);
  });

  it("rejects input llama.cpp would refuse", () => {
    const tensor = tensors[0]!;
    expect(() => writeGguf({ metadata, tensors: [tensor, tensor] })).toThrow(/duplicate tensor/);
    expect(() => writeGguf({ metadata, tensors: [{ ...tensor, name: "x".repeat(64) }] })).toThrow(/longer than 63/);
    expect(() => writeGguf({ metadata, tensors: [{ ...tensor, dims: [1, 1, 1, 1, 1] }] })).toThrow(/1 to 4 dims/);
    expect(() => writeGguf({ metadata, tensors: [{ ...tensor, dims: [0] }] })).toThrow(/invalid dim/);
    expect(() => writeGguf({ metadata, tensors, alignment: 24 })).toThrow(/power of two/);
    expect(() => writeGguf({ metadata: { "general.alignment": { type: "uint32", value: 32 } }, tensors: [] })).toThrow(
      /alignment option/,
    );
    expect(() => writeGguf({ metadata: { k: { type: "uint32", value: -1 } }, tensors: [] })).toThrow(/not a uint32/);
    expect(() => writeGguf({ metadata: { k: { type: "int32[]", value: [2 ** 31] } }, tensors: [] })).toThrow(
      /not an int32/,
    );
  });
});
