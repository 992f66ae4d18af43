import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTransformersModel, parseGguf, writeSafetensors } from "@slm/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { convertTransformersCached } from "./convert-transformers-cached.ts";
import { convertTransformersToGguf } from "./convert-transformers.ts";
import {
  InvalidModelConfigError,
  InvalidWeightsFileError,
  TensorShapeError,
  UnexpectedTensorError,
  UnsupportedArchitectureError,
  UnsupportedDtypeError,
  UnsupportedTokenizerError,
} from "./errors.ts";

const root = await mkdtemp(join(tmpdir(), "convert-unit-"));
afterAll(() => rm(root, { recursive: true, force: true }));
let count = 0;

async function model(options: Partial<Parameters<typeof generateTransformersModel>[0]> = {}) {
  const dir = join(root, `m${count++}`);
  const generated = await generateTransformersModel({
    architecture: "LlamaForCausalLM",
    dir,
    hiddenSize: 32,
    numHeads: 2,
    numKvHeads: 1,
    numLayers: 1,
    intermediateSize: 64,
    ...options,
  });
  const files = Object.fromEntries((await readdir(dir)).map((name) => [name, join(dir, name)]));
  return { ...generated, files };
}

async function metadataOf(path: string) {
  const bytes = await readFile(path);
  const { metadata, tensorInfos, tensorDataOffset } = await parseGguf(bytes);
  const values = Object.fromEntries(
    Object.entries(metadata).map(([key, entry]) => [
      key,
      typeof entry === "object" && entry !== null && "value" in entry ? entry.value : entry,
    ]),
  );
  return {
    metadata: values,
    tensors: new Map(tensorInfos.map((t) => [t.name, t])),
    bytes,
    dataOffset: Number(tensorDataOffset),
  };
}

describe("convertTransformersToGguf", () => {
  it("writes llama.cpp's keys, F32 norms, Q8_0 matrices and no output.weight for tied embeddings", async () => {
    const { files } = await model({ architecture: "Qwen2ForCausalLM" });
    const out = join(root, "qwen2.gguf");
    await convertTransformersToGguf({ files, outType: "q8_0", outPath: out, name: "tiny" });
    const { metadata, tensors } = await metadataOf(out);
    expect(metadata).toMatchObject({
      "general.architecture": "qwen2",
      "general.name": "tiny",
      "general.file_type": 7,
      "qwen2.block_count": 1,
      "qwen2.embedding_length": 32,
      "qwen2.attention.head_count": 2,
      "qwen2.attention.head_count_kv": 1,
      "qwen2.rope.freq_base": 1000000,
      "tokenizer.ggml.model": "gpt2",
      "tokenizer.ggml.pre": "llama-bpe",
    });
    expect(tensors.get("blk.0.attn_q.weight")?.dtype).toBe(8);
    expect(tensors.get("blk.0.attn_q.bias")?.dtype).toBe(0);
    expect(tensors.get("blk.0.attn_norm.weight")?.dtype).toBe(0);
    expect(tensors.has("output.weight")).toBe(false);
  });

  it("turns llama3 rope_scaling into rope_freqs and linear/yarn scaling into keys", async () => {
    const llama3 = await model({
      ropeScaling: {
        rope_type: "llama3",
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 64,
      },
      ropeTheta: 10000,
    });
    const out = join(root, "llama3.gguf");
    await convertTransformersToGguf({ files: llama3.files, outType: "f16", outPath: out });
    const { tensors, bytes, dataOffset } = await metadataOf(out);
    const info = tensors.get("rope_freqs.weight")!;
    expect(info.shape).toEqual([8n]);
    const start = bytes.byteOffset + dataOffset + Number(info.offset);
    const factors = new Float32Array(bytes.buffer.slice(start, start + 32));
    // head_dim 16, theta 1e4: wavelengths 2π·1e4^(2i/16) against 64/4 = 16 and 64/1 = 64.
    const expected = Array.from({ length: 8 }, (_, i) => {
      const wavelen = 2 * Math.PI * 10000 ** ((2 * i) / 16);
      if (wavelen < 16) return 1;
      if (wavelen > 64) return 8;
      const smooth = (64 / wavelen - 1) / 3;
      return 1 / ((1 - smooth) / 8 + smooth);
    });
    expect(Math.max(...Array.from(factors, (v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-5);
    expect(new Set(expected).size).toBeGreaterThan(2);

    const yarn = await model({
      architecture: "Qwen3ForCausalLM",
      ropeScaling: { rope_type: "yarn", factor: 4, original_max_position_embeddings: 32768 },
    });
    const yarnOut = join(root, "yarn.gguf");
    await convertTransformersToGguf({ files: yarn.files, outType: "f16", outPath: yarnOut });
    expect((await metadataOf(yarnOut)).metadata).toMatchObject({
      "qwen3.rope.scaling.type": "yarn",
      "qwen3.rope.scaling.factor": 4,
      "qwen3.rope.scaling.original_context_length": 32768,
    });
  });

  it("refuses other architectures by name, stray tensors, missing tensors and unknown rope scaling", async () => {
    const phi = await model({ configOverrides: { architectures: ["PhiForCausalLM"] } });
    const refusal = convertTransformersToGguf({ files: phi.files, outType: "f16", outPath: join(root, "phi.gguf") });
    await expect(refusal).rejects.toThrow(UnsupportedArchitectureError);
    await expect(refusal).rejects.toMatchObject({
      code: "convert_unsupported_architecture",
      message: expect.stringContaining("PhiForCausalLM"),
    });

    const stray = await model();
    await writeFile(
      stray.files["model.safetensors"]!,
      writeSafetensors([
        ...stray.tensors,
        { name: "model.layers.0.mlp.experts.0.weight", dtype: "F32", shape: [2], data: [1, 2] },
      ]),
    );
    await expect(
      convertTransformersToGguf({ files: stray.files, outType: "f16", outPath: join(root, "x.gguf") }),
    ).rejects.toThrow(UnexpectedTensorError);

    const missing = await model();
    await writeFile(
      missing.files["model.safetensors"]!,
      writeSafetensors(missing.tensors.filter((t) => !t.name.endsWith("up_proj.weight"))),
    );
    await expect(
      convertTransformersToGguf({ files: missing.files, outType: "f16", outPath: join(root, "y.gguf") }),
    ).rejects.toThrow(TensorShapeError);

    const int8 = await model();
    const header = JSON.stringify({ "model.embed_tokens.weight": { dtype: "I8", shape: [1], data_offsets: [0, 1] } });
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    await writeFile(int8.files["model.safetensors"]!, Buffer.concat([length, Buffer.from(header), Buffer.from([1])]));
    await expect(
      convertTransformersToGguf({ files: int8.files, outType: "f16", outPath: join(root, "i.gguf") }),
    ).rejects.toThrow(new UnsupportedDtypeError("model.embed_tokens.weight", "I8"));
    const truncated = JSON.stringify({
      "model.embed_tokens.weight": { dtype: "F32", shape: [4], data_offsets: [0, 16] },
    });
    length.writeBigUInt64LE(BigInt(truncated.length));
    await writeFile(int8.files["model.safetensors"]!, Buffer.concat([length, Buffer.from(truncated), Buffer.alloc(8)]));
    await expect(
      convertTransformersToGguf({ files: int8.files, outType: "f16", outPath: join(root, "i.gguf") }),
    ).rejects.toThrow(InvalidWeightsFileError);

    const gptq = await model({ configOverrides: { quantization_config: { quant_method: "gptq", bits: 4 } } });
    await expect(
      convertTransformersToGguf({ files: gptq.files, outType: "f16", outPath: join(root, "q.gguf") }),
    ).rejects.toThrow(/quantization_config: gptq/);

    const dynamic = await model({ ropeScaling: { rope_type: "dynamic", factor: 2 } });
    await expect(
      convertTransformersToGguf({ files: dynamic.files, outType: "f16", outPath: join(root, "z.gguf") }),
    ).rejects.toThrow(InvalidModelConfigError);

    const wordPiece = await model();
    const json = JSON.parse(await readFile(wordPiece.files["tokenizer.json"]!, "utf8"));
    await writeFile(
      wordPiece.files["tokenizer.json"]!,
      JSON.stringify({ ...json, model: { ...json.model, type: "WordPiece" } }),
    );
    await expect(
      convertTransformersToGguf({ files: wordPiece.files, outType: "f16", outPath: join(root, "w.gguf") }),
    ).rejects.toThrow(UnsupportedTokenizerError);
  });
});

describe("convertTransformersCached", () => {
  it("converts once per sources and output type, atomically, and reconverts a damaged file", async () => {
    const { files } = await model();
    const cacheDir = join(root, "cache");
    const progress: number[] = [];
    const first = await convertTransformersCached({
      cacheDir,
      files,
      outType: "q8_0",
      onProgress: (done, total) => progress.push(done / total),
    });
    expect(first.converted).toBe(true);
    expect(progress.at(-1)).toBe(1);
    const again = await convertTransformersCached({ cacheDir, files, outType: "q8_0" });
    expect(again).toEqual({ ...first, converted: false });
    const f16 = await convertTransformersCached({ cacheDir, files, outType: "f16" });
    expect(f16.key).not.toBe(first.key);
    expect((await readdir(cacheDir)).sort()).toEqual(
      [`${first.key}.gguf`, `${first.key}.gguf.sha256`, `${f16.key}.gguf`, `${f16.key}.gguf.sha256`].sort(),
    );

    await writeFile(first.path, "damaged");
    const redone = await convertTransformersCached({ cacheDir, files, outType: "q8_0" });
    expect(redone.converted).toBe(true);
    expect((await readFile(redone.path)).subarray(0, 4).toString()).toBe("GGUF");
  });

  it("leaves nothing behind when the conversion is refused", async () => {
    const { files } = await model({ configOverrides: { architectures: ["BertModel"] } });
    const cacheDir = join(root, "refused-cache");
    await expect(convertTransformersCached({ cacheDir, files, outType: "q8_0" })).rejects.toThrow(
      UnsupportedArchitectureError,
    );
    await expect(readdir(cacheDir)).rejects.toThrow();
  });
});
