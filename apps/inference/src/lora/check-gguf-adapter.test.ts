import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateLoraBase, generatePeftAdapter, type TinyLoraOptions } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IncompleteLoraPairError, ShapeMismatchError } from "../formats/index.ts";
import { checkGgufAdapter } from "./check-gguf-adapter.ts";
import { convertPeftToGguf } from "./convert-peft-to-gguf.ts";
import { ArchitectureMismatchError, InvalidGgufAdapterError } from "./errors.ts";
import { readBaseModelInfo, type BaseModelInfo } from "./read-base-model-info.ts";
import { writeAdapterGguf } from "./write-adapter-gguf.ts";

const SMALL: TinyLoraOptions = { base: { nLayer: 1, nEmbd: 32, nHead: 4, nHeadKv: 2, nFf: 48 } };

describe("checkGgufAdapter", () => {
  let dir: string;
  let llama: BaseModelInfo;

  async function file(name: string, bytes: Uint8Array | string): Promise<string> {
    await writeFile(join(dir, name), bytes);
    return join(dir, name);
  }

  async function convertedFor(options: TinyLoraOptions, name: string): Promise<string> {
    const base = await readBaseModelInfo(await file(`${name}-base.gguf`, generateLoraBase(options)));
    const { files } = generatePeftAdapter(options);
    const bytes = convertPeftToGguf({
      adapterConfig: files["adapter_config.json"],
      safetensors: files["adapter_model.safetensors"],
      base,
    });
    return file(`${name}.gguf`, bytes);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lora-check-"));
    llama = await readBaseModelInfo(await file("base.gguf", generateLoraBase(SMALL)));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("accepts a converted adapter and reports its alpha and pairs", async () => {
    expect(await checkGgufAdapter(await convertedFor(SMALL, "ok"), llama)).toEqual({
      architecture: "llama",
      alpha: 8,
      pairs: 7,
    });
  });

  it("refuses an adapter for another architecture", async () => {
    const qwen2 = await convertedFor({ base: { ...SMALL.base, architecture: "qwen2" } }, "qwen2");
    await expect(checkGgufAdapter(qwen2, llama)).rejects.toThrow(ArchitectureMismatchError);
    await expect(checkGgufAdapter(qwen2, llama)).rejects.toThrow(
      'the adapter is for architecture "qwen2" but the base model is "llama"',
    );
  });

  it("refuses an adapter for a model of another size", async () => {
    const bigger = await convertedFor({ base: { ...SMALL.base, nFf: 64 } }, "bigger");
    await expect(checkGgufAdapter(bigger, llama)).rejects.toThrow(ShapeMismatchError);
    await expect(checkGgufAdapter(bigger, llama)).rejects.toThrow(
      /blk\.0\.ffn_gate\.weight: base \[32, 48\], lora_a \[32, 4\], lora_b \[4, 64\]/,
    );
  });

  it("refuses a full model given as an adapter", async () => {
    await expect(checkGgufAdapter(join(dir, "base.gguf"), llama)).rejects.toThrow(
      /general\.type is undefined, not "adapter": is this a full model\?/,
    );
  });

  it("refuses a half pair, a stray tensor and a file that is not GGUF", async () => {
    const header = {
      "general.architecture": "llama",
      "general.type": "adapter",
      "adapter.type": "lora",
      "adapter.lora.alpha": 8,
    };
    const lonely = writeAdapterGguf({
      metadata: header,
      tensors: [{ name: "blk.0.attn_v.weight.lora_a", dims: [32, 4], data: new Float32Array(128) }],
      type: "f32",
    });
    await expect(checkGgufAdapter(await file("lonely.gguf", lonely), llama)).rejects.toThrow(IncompleteLoraPairError);
    const stray = writeAdapterGguf({
      metadata: header,
      tensors: [{ name: "blk.0.attn_v.weight", dims: [2], data: new Float32Array(2) }],
      type: "f32",
    });
    await expect(checkGgufAdapter(await file("stray.gguf", stray), llama)).rejects.toThrow(
      "tensor blk.0.attn_v.weight is neither a .lora_a nor a .lora_b tensor",
    );
    await expect(checkGgufAdapter(await file("junk.gguf", "junk"), llama)).rejects.toThrow(InvalidGgufAdapterError);
  });
});
