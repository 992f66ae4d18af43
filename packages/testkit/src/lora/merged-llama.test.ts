import { describe, expect, it } from "vitest";
import { permuteForLlamaRope } from "../gguf/llama-rope-permute.ts";
import { readF32Tensors } from "../gguf/parse-for-tests.ts";
import { drawLoraWeights, type LoraModuleWeights, type TinyLoraOptions } from "./lora-weights.ts";
import { generateLoraBase, generateMergedLlama } from "./merged-llama.ts";

const OPTIONS: TinyLoraOptions = {
  base: { nLayer: 1, nEmbd: 16, nHead: 2, nHeadKv: 1, nFf: 24 },
  targetModules: ["embed_tokens", "q_proj", "k_proj", "down_proj"],
  r: 2,
  alpha: 6,
};

/** scaling · B·A as a [rows][columns] matrix, straight from the definition (transposed for an embedding). */
function delta({ a, b, aShape, bShape, scaling, embedding }: LoraModuleWeights): {
  matrix: Float64Array;
  rows: number;
} {
  const [rank, inputs] = aShape;
  const outputs = bShape[0];
  const product = new Float64Array(outputs * inputs);
  for (let o = 0; o < outputs; o++) {
    for (let i = 0; i < inputs; i++) {
      for (let k = 0; k < rank; k++) product[o * inputs + i]! += b[o * rank + k]! * a[k * inputs + i]!;
    }
  }
  if (!embedding) return { matrix: product.map((v) => v * scaling), rows: outputs };
  const transposed = new Float64Array(product.length);
  for (let o = 0; o < outputs; o++)
    for (let i = 0; i < inputs; i++) transposed[i * outputs + o] = product[o * inputs + i]! * scaling;
  return { matrix: transposed, rows: inputs };
}

describe("generateMergedLlama", () => {
  it("adds scale · s · B·A in Hugging Face order and stores q/k reordered like the base", async () => {
    const base = await readF32Tensors(generateLoraBase(OPTIONS));
    const merged = await readF32Tensors(generateMergedLlama(OPTIONS, 0.5));
    const modules = new Map(drawLoraWeights(OPTIONS).map((module) => [module.tensor, module]));
    expect([...modules.keys()].sort()).toEqual([
      "blk.0.attn_k.weight",
      "blk.0.attn_q.weight",
      "blk.0.ffn_down.weight",
      "token_embd.weight",
    ]);

    for (const [name, weights] of base) {
      const module = modules.get(name);
      const difference = Float32Array.from(merged.get(name)!, (value, i) => value - weights[i]!);
      if (!module) {
        expect([name, difference.every((v) => v === 0)]).toEqual([name, true]);
        continue;
      }
      const { matrix, rows } = delta(module);
      let expected: Float32Array = Float32Array.from(matrix, (v) => v * 0.5);
      const heads = name === "blk.0.attn_q.weight" ? 2 : name === "blk.0.attn_k.weight" ? 1 : 0;
      if (heads > 0) expected = permuteForLlamaRope(expected, rows, expected.length / rows, heads);
      const error = Math.max(...difference.map((v, i) => Math.abs(v - expected[i]!)));
      expect([name, error]).toEqual([name, expect.any(Number)]);
      expect(error).toBeLessThan(1e-5);
      expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(0.05); // the delta is not negligible
    }
  });

  it("equals the base at scale 0", () => {
    expect(Buffer.from(generateMergedLlama(OPTIONS, 0)).equals(Buffer.from(generateLoraBase(OPTIONS)))).toBe(true);
  });
});
