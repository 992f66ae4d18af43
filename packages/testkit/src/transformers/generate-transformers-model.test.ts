import { Tokenizer } from "@huggingface/tokenizers";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateTransformersModel } from "./generate-transformers-model.ts";

const root = await mkdtemp(join(tmpdir(), "tk-transformers-"));
afterAll(() => rm(root, { recursive: true, force: true }));

function safetensorsHeader(bytes: Uint8Array): Record<string, { dtype: string; shape: number[] }> {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const { __metadata__, ...tensors } = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  return tensors;
}

describe("generateTransformersModel", () => {
  it("writes a Qwen2 folder with biases, tied embeddings and a tokenizer the reference encoder loads", async () => {
    const model = await generateTransformersModel({ architecture: "Qwen2ForCausalLM", dir: join(root, "qwen2") });
    expect(model.files).toEqual([
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    const header = safetensorsHeader(await readFile(join(model.dir, "model.safetensors")));
    expect(header["model.layers.1.self_attn.k_proj.bias"]).toEqual({
      dtype: "F16",
      shape: [32],
      data_offsets: expect.any(Array),
    });
    expect(header["lm_head.weight"]).toBeUndefined();
    expect(Object.keys(header).sort()).toEqual(model.tensors.map((t) => t.name).sort());
    const config = JSON.parse(await readFile(join(model.dir, "config.json"), "utf8"));
    expect(config).toMatchObject({
      architectures: ["Qwen2ForCausalLM"],
      hidden_size: 64,
      num_hidden_layers: 2,
      tie_word_embeddings: true,
    });
    const tokenizer = new Tokenizer(model.tokenizer.tokenizerJson, model.tokenizer.tokenizerConfig);
    const ids = tokenizer.encode("<|im_start|>hello the world").ids;
    expect(ids[0]).toBe(config.bos_token_id);
    expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe("hello the world");
    expect(ids.length).toBeLessThan(10); // merges work
  });

  it("shards weights with an index, is seeded, and writes Gemma3's and Qwen3's extra norms", async () => {
    const a = await generateTransformersModel({
      architecture: "Gemma3ForCausalLM",
      dir: join(root, "g1"),
      shards: 3,
      seed: 5,
    });
    const b = await generateTransformersModel({ architecture: "Gemma3ForCausalLM", dir: join(root, "g2"), seed: 5 });
    expect(a.files).toContain("model-00003-of-00003.safetensors");
    const index = JSON.parse(await readFile(join(a.dir, "model.safetensors.index.json"), "utf8"));
    expect(Object.keys(index.weight_map).sort()).toEqual(a.tensors.map((t) => t.name).sort());
    expect(a.tensors.map((t) => [t.name, Array.from(t.data).slice(0, 4)])).toEqual(
      b.tensors.map((t) => [t.name, Array.from(t.data).slice(0, 4)]),
    );
    expect(a.tensors.some((t) => t.name === "model.layers.0.pre_feedforward_layernorm.weight")).toBe(true);
    const qwen3 = await generateTransformersModel({
      architecture: "Qwen3ForCausalLM",
      dir: join(root, "q3"),
      headDim: 32,
    });
    expect(qwen3.tensors.find((t) => t.name === "model.layers.0.self_attn.q_norm.weight")?.shape).toEqual([32]);
    expect(qwen3.tensors.find((t) => t.name === "model.layers.0.self_attn.q_proj.weight")?.shape).toEqual([128, 64]);
  });

  it("takes a real tokenizer, truncated to a small vocabulary that still encodes text", async () => {
    const model = await generateTransformersModel({
      architecture: "LlamaForCausalLM",
      dir: join(root, "l3"),
      tokenizer: "llama3",
      truncateVocab: 2000,
    });
    expect(model.config["vocab_size"]).toBe(2256);
    expect(model.tensors[0]!.shape).toEqual([2256, 64]);
    const tokenizer = new Tokenizer(model.tokenizer.tokenizerJson, model.tokenizer.tokenizerConfig);
    const ids = tokenizer.encode("the cat is on the table").ids;
    expect(Math.max(...ids)).toBeLessThan(2256);
    expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe("the cat is on the table");
  });
});
