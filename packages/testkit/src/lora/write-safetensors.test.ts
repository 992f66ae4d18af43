import { describe, expect, it } from "vitest";
import { writeSafetensors } from "./write-safetensors.ts";

describe("writeSafetensors", () => {
  const file = writeSafetensors(
    [
      { name: "a", dtype: "F32", shape: [2], data: [1.5, -2] },
      { name: "b", dtype: "F16", shape: [1, 3], data: [1, -1, 0.1] },
      { name: "c", dtype: "BF16", shape: [1], data: [1] },
    ],
    { format: "pt" },
  );
  const view = new DataView(file.buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength)));
  const data = 8 + headerLength;

  it("writes the header with back-to-back data offsets, padded to 8 bytes", () => {
    expect(header).toEqual({
      __metadata__: { format: "pt" },
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F16", shape: [1, 3], data_offsets: [8, 14] },
      c: { dtype: "BF16", shape: [1], data_offsets: [14, 16] },
    });
    expect(data % 8).toBe(0);
    expect(file.length).toBe(data + 16);
  });

  it("writes little-endian data in each dtype", () => {
    expect([view.getFloat32(data, true), view.getFloat32(data + 4, true)]).toEqual([1.5, -2]);
    expect([0, 1, 2].map((i) => view.getUint16(data + 8 + i * 2, true))).toEqual([0x3c00, 0xbc00, 0x2e66]);
    expect(view.getUint16(data + 14, true)).toBe(0x3f80);
  });
});
