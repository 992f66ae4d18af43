import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTinyLlama } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidBaseModelError } from "./errors.ts";
import { readBaseModelInfo } from "./read-base-model-info.ts";

describe("readBaseModelInfo", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lora-base-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(["llama", "qwen2"] as const)(
    "reads the %s architecture, head counts and tensor dims",
    async (architecture) => {
      const path = join(dir, `${architecture}.gguf`);
      await writeFile(path, generateTinyLlama({ architecture, nLayer: 1, nEmbd: 32, nHead: 4, nHeadKv: 2, nFf: 48 }));
      const info = await readBaseModelInfo(path);
      expect(info.architecture).toBe(architecture);
      expect([info.headCount, info.headCountKv]).toEqual([4, 2]);
      expect(info.tensors.get("blk.0.attn_k.weight")).toEqual([32, 16]);
      expect(info.tensors.get("blk.0.ffn_down.weight")).toEqual([48, 32]);
      expect(info.tensors.size).toBe(12);
    },
  );

  it("refuses a file that is not GGUF", async () => {
    const path = join(dir, "not.gguf");
    await writeFile(path, "not a model");
    await expect(readBaseModelInfo(path)).rejects.toThrow(InvalidBaseModelError);
  });
});
