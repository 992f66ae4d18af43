import { describe, expect, it } from "vitest";
import { parsePeftKey } from "./parse-peft-key.ts";

describe("parsePeftKey", () => {
  const q = "model.layers.0.self_attn.q_proj";
  it.each([
    [`base_model.model.${q}.lora_A.weight`, q, "lora_A"],
    [`base_model.model.${q}.lora_B.weight`, q, "lora_B"],
    ["base_model.model.model.embed_tokens.lora_embedding_A", "model.embed_tokens", "lora_embedding_A"],
    ["base_model.model.model.embed_tokens.lora_embedding_B", "model.embed_tokens", "lora_embedding_B"],
    [`base_model.model.${q}.lora_magnitude_vector`, q, "dora_magnitude"],
    [`base_model.model.${q}.lora_magnitude_vector.weight`, q, "dora_magnitude"],
    [`base_model.model.${q}.lora_B.bias`, q, "bias"],
    [`base_model.model.${q}.bias`, q, "bias"],
    ["base_model.model.lm_head.weight", "lm_head", "other"],
    [`base_model.model.${q}.lora_A.default.weight`, `${q}.lora_A.default`, "other"],
  ])("%s", (key, module, role) => {
    expect(parsePeftKey(key)).toEqual({ module, role });
  });
});
