import { describe, expect, it } from "vitest";
import { mapModuleName } from "./map-module-name.ts";

describe("mapModuleName", () => {
  it.each([
    ["model.embed_tokens", "token_embd.weight", undefined, true],
    ["lm_head", "output.weight", undefined, false],
    ["model.layers.0.self_attn.q_proj", "blk.0.attn_q.weight", "q", false],
    ["model.layers.1.self_attn.k_proj", "blk.1.attn_k.weight", "k", false],
    ["model.layers.2.self_attn.v_proj", "blk.2.attn_v.weight", undefined, false],
    ["model.layers.31.self_attn.o_proj", "blk.31.attn_output.weight", undefined, false],
    ["model.layers.0.mlp.gate_proj", "blk.0.ffn_gate.weight", undefined, false],
    ["model.layers.0.mlp.up_proj", "blk.0.ffn_up.weight", undefined, false],
    ["model.layers.0.mlp.down_proj", "blk.0.ffn_down.weight", undefined, false],
  ])("%s -> %s", (module, tensor, rotary, embedding) => {
    expect(mapModuleName(module)).toEqual({ tensor, rotary, embedding });
  });

  it.each([
    "model.layers.0.self_attn.qkv_proj", // phi3's fused projection
    "transformer.h.0.attn.c_attn", // GPT-2
    "model.layers.0.mlp.experts.0.gate_proj",
    "model.norm",
    "model.layers.x.self_attn.q_proj",
    "model.layers.0.self_attn.constructor",
  ])("has no target for %s", (module) => {
    expect(mapModuleName(module)).toBeUndefined();
  });
});
