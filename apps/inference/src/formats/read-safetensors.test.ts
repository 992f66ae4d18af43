import { writeSafetensors } from "@slm/testkit";
import { describe, expect, it } from "vitest";
import { SafetensorsFormatError } from "./errors.ts";
import { readSafetensors } from "./read-safetensors.ts";

/** A safetensors file from a header object and raw data bytes, laid out by hand. */
function rawFile(header: unknown, data: readonly number[] = [], headerText = JSON.stringify(header)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const file = new Uint8Array(8 + json.length + data.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  file.set(data, 8 + json.length);
  return file;
}

/** Little-endian bytes of 16-bit patterns. */
const halves = (...bits: number[]) => bits.flatMap((b) => [b & 0xff, b >> 8]);

describe("readSafetensors", () => {
  it("reads names, dtypes, shapes and metadata, and decodes F32", () => {
    const file = readSafetensors(
      writeSafetensors([{ name: "w", dtype: "F32", shape: [2, 3], data: [1, 0, 2, 0, 1, -1] }], { format: "pt" }),
    );
    expect(file.metadata).toEqual({ format: "pt" });
    expect([...file.tensors]).toEqual([["w", expect.objectContaining({ dtype: "F32", shape: [2, 3] })]]);
    expect(Array.from(file.read("w"))).toEqual([1, 0, 2, 0, 1, -1]);
  });

  it("decodes the float16 bit patterns of lora-format.md", () => {
    const bits = [0x3c00, 0xbc00, 0x2e66, 0x7bff, 0x7c00, 0x03ff, 0x0001, 0x8000];
    const file = readSafetensors(rawFile({ h: { dtype: "F16", shape: [8], data_offsets: [0, 16] } }, halves(...bits)));
    const values = Array.from(file.read("h"));
    expect(values.slice(0, 2)).toEqual([1, -1]);
    expect(values[2]).toBeCloseTo(0.1, 3);
    expect(values.slice(3, 5)).toEqual([65504, Infinity]);
    expect(values[5]).toBeCloseTo(6.1e-5, 7);
    expect(values[6]).toBeCloseTo(5.96e-8, 10);
    expect(Object.is(values[7], -0)).toBe(true);
  });

  it("decodes BF16 as the upper half of a float32", () => {
    const file = readSafetensors(
      rawFile({ b: { dtype: "BF16", shape: [3], data_offsets: [0, 6] } }, halves(0x3f80, 0xc000, 0x3dcd)),
    );
    expect(Array.from(file.read("b"))).toEqual([1, -2, Math.fround(0.10009765625)]);
  });

  it("reads tensors at unaligned offsets", () => {
    // One F16 tensor (2 bytes) puts the F32 tensor after it at an odd alignment.
    const f32 = new Uint8Array(new Float32Array([1.5, -2.25]).buffer);
    const file = readSafetensors(
      rawFile(
        {
          a: { dtype: "F16", shape: [1], data_offsets: [0, 2] },
          b: { dtype: "F32", shape: [2], data_offsets: [2, 10] },
        },
        [...halves(0x3c00), ...f32],
      ),
    );
    expect(Array.from(file.read("b"))).toEqual([1.5, -2.25]);
  });

  it("accepts empty tensors and refuses unknown names on read", () => {
    const file = readSafetensors(rawFile({ e: { dtype: "F32", shape: [0, 4], data_offsets: [0, 0] } }));
    expect(file.read("e").length).toBe(0);
    expect(() => file.read("nope")).toThrow(/there is no tensor nope/);
  });

  it.each([
    ["a file shorter than the length field", new Uint8Array(4), /shorter than its 8-byte header length/],
    ["a header longer than the file", rawFile({}).subarray(0, 9), /truncated/],
    [
      "a header length over 100 MB",
      (() => {
        const f = new Uint8Array(8);
        new DataView(f.buffer).setBigUint64(0, 2n ** 40n, true);
        return f;
      })(),
      /exceeds 100000000 bytes/,
    ],
    ["a header that is not JSON", rawFile(null, [], "{oops"), /not UTF-8 JSON/],
    ["a header that is a JSON array", rawFile([]), /not a JSON object/],
    [
      "an entry without data_offsets",
      rawFile({ w: { dtype: "F32", shape: [1] } }),
      /tensor w: expected \{dtype, shape, data_offsets\}/,
    ],
    ["a negative dimension", rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }), /tensor w: expected/],
    [
      "an integer dtype",
      rawFile({ w: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, new Array(8).fill(0)),
      /dtype I64; only F32, F16 and BF16 weights are supported/,
    ],
    [
      "offsets past the data",
      rawFile({ w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, [0, 0]),
      /fall outside the 2 data bytes/,
    ],
    [
      "reversed offsets",
      rawFile({ w: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, [0, 0, 0, 0]),
      /fall outside/,
    ],
    [
      "a size that does not fit the shape",
      rawFile({ w: { dtype: "F16", shape: [3], data_offsets: [0, 4] } }, [0, 0, 0, 0]),
      /4 bytes do not hold shape \[3\] of F16/,
    ],
    ["non-string metadata", rawFile({ __metadata__: { n: 1 } }), /__metadata__ is not a map of strings/],
  ])("refuses %s", (_case, bytes, message) => {
    expect(() => readSafetensors(bytes)).toThrow(SafetensorsFormatError);
    expect(() => readSafetensors(bytes)).toThrow(message);
  });
});
