import { describe, expect, it } from "vitest";
import { buildLlamaVocab } from "../gguf/vocab.ts";
import { generatePeftAdapter } from "./peft-adapter.ts";

const BASE = { nLayer: 2, nEmbd: 32, nHead: 4, nHeadKv: 2, nFf: 48 };

function header(file: Uint8Array): Record<string, { dtype: string; shape: number[] }> {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length)));
}

describe("generatePeftAdapter", () => {
  it("writes PEFT's keys and shapes for q, k, v, o and the MLP of every layer", () => {
    const { files, config } = generatePeftAdapter({ base: BASE, r: 4 });
    const tensors = header(files["adapter_model.safetensors"]);
    const layer0 = "base_model.model.model.layers.0";
    expect(tensors[`${layer0}.self_attn.q_proj.lora_A.weight`]).toEqual(
      expect.objectContaining({ dtype: "F32", shape: [4, 32] }),
    );
    expect(tensors[`${layer0}.self_attn.q_proj.lora_B.weight`]?.shape).toEqual([32, 4]);
    expect(tensors[`${layer0}.self_attn.k_proj.lora_B.weight`]?.shape).toEqual([16, 4]); // 2 kv heads of 8
    expect(tensors[`${layer0}.mlp.down_proj.lora_A.weight`]?.shape).toEqual([4, 48]);
    expect(tensors[`${layer0}.mlp.gate_proj.lora_B.weight`]?.shape).toEqual([48, 4]);
    expect(Object.keys(tensors).filter((key) => key !== "__metadata__")).toHaveLength(2 * 7 * 2);
    expect(JSON.parse(files["adapter_config.json"])).toEqual(config);
    expect(config).toMatchObject({
      peft_type: "LORA",
      r: 4,
      lora_alpha: 8,
      use_rslora: false,
      bias: "none",
      base_model_name_or_path: "tiny/base",
    });
  });

  it("writes embedding LoRA without the .weight suffix and honours dtype, patterns and overrides", () => {
    const { files, config } = generatePeftAdapter(
      {
        base: BASE,
        targetModules: ["embed_tokens", "lm_head", "v_proj"],
        rankPattern: { "layers.1.self_attn.v_proj": 2 },
        dtype: "BF16",
      },
      {
        config: { use_dora: true },
        omit: (key) => key.endsWith("layers.0.self_attn.v_proj.lora_B.weight"),
        extraTensors: [{ name: "base_model.model.lm_head.weight", dtype: "F32", shape: [1], data: [0] }],
      },
    );
    const tensors = header(files["adapter_model.safetensors"]);
    const vocab = buildLlamaVocab().tokens.length;
    expect(tensors["base_model.model.model.embed_tokens.lora_embedding_A"]).toEqual(
      expect.objectContaining({ dtype: "BF16", shape: [4, vocab] }),
    );
    expect(tensors["base_model.model.model.embed_tokens.lora_embedding_B"]?.shape).toEqual([32, 4]);
    expect(tensors["base_model.model.lm_head.lora_B.weight"]?.shape).toEqual([vocab, 4]);
    expect(tensors["base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"]?.shape).toEqual([2, 32]);
    expect(tensors["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"]).toBeUndefined();
    expect(tensors["base_model.model.lm_head.weight"]).toBeDefined();
    expect(config).toMatchObject({
      use_dora: true,
      target_modules: ["embed_tokens", "lm_head", "v_proj"],
      rank_pattern: { "layers.1.self_attn.v_proj": 2 },
    });
  });
});
