import { decodeHalf, parseGguf, writeSafetensors, type SafetensorsDtype } from "@slm/testkit";
import { describe, expect, it } from "vitest";
import { convertPeftToGguf, type ConvertPeftOptions } from "./convert-peft-to-gguf.ts";
import {
  AdapterConfigError,
  DoraNotSupportedError,
  FanInFanOutError,
  IncompleteLoraPairError,
  LoraBiasError,
  ModulesToSaveError,
  ShapeMismatchError,
  UnknownModuleError,
  UnsupportedPeftTypeError,
  ZeroAlphaError,
} from "../formats/index.ts";
import {
  ArchitectureMismatchError,
  FusedQkvBaseError,
  InvalidBaseModelError,
  NonFiniteWeightsError,
  TiedEmbeddingLoraError,
} from "./errors.ts";
import type { BaseModelInfo } from "./read-base-model-info.ts";

type Tensors = Record<string, { shape: number[]; data: number[]; dtype?: SafetensorsDtype }>;

const P = "base_model.model.model.layers.0";
const V = `${P}.self_attn.v_proj`;

/** The worked example of lora-format.md: W (2x3), A (r=2, in=3), B (out=2, r=2), alpha 4, on a v projection. */
const W = [
  [1, 0, 2],
  [0, 1, -1],
];
const WORKED: Tensors = {
  [`${V}.lora_A.weight`]: { shape: [2, 3], data: [1, 2, 0, 0, 1, 1] },
  [`${V}.lora_B.weight`]: { shape: [2, 2], data: [1, 0, 2, -1] },
};
const WORKED_BASE = base("qwen2", { "blk.0.attn_v.weight": [3, 2] });

function base(
  architecture: string,
  tensors: Record<string, number[]>,
  headCount?: number,
  headCountKv = headCount,
): BaseModelInfo {
  return { architecture, headCount, headCountKv, tensors: new Map(Object.entries(tensors)) };
}

function convert(
  tensors: Tensors,
  config: Record<string, unknown>,
  info: BaseModelInfo,
  options: Partial<ConvertPeftOptions> = {},
) {
  const safetensors = writeSafetensors(
    Object.entries(tensors).map(([name, { shape, data, dtype = "F32" }]) => ({ name, shape, data, dtype })),
  );
  return convertPeftToGguf({
    adapterConfig: JSON.stringify({ r: 2, lora_alpha: 4, ...config }),
    safetensors,
    base: info,
    ...options,
  });
}

/** Parses a converted adapter with an independent GGUF reader; tensor data widened to numbers. */
async function readAdapter(bytes: Uint8Array) {
  const { metadata, tensorInfos, tensorDataOffset } = await parseGguf(bytes);
  const tensors = new Map(
    tensorInfos.map((info) => {
      const dims = info.shape.map(Number);
      const count = dims.reduce((product, dim) => product * dim, 1);
      const start = Number(tensorDataOffset + info.offset);
      const view = new DataView(bytes.buffer, bytes.byteOffset + start);
      const data = Array.from({ length: count }, (_, i) =>
        info.dtype === 0 ? view.getFloat32(i * 4, true) : decodeHalf("F16", view.getUint16(i * 2, true)),
      );
      return [info.name, { dims, dtype: info.dtype as number, data }];
    }),
  );
  return { metadata: metadata as Record<string, unknown>, tensors };
}

/** y = W x + userScale · alpha / r · B (A x), computed from the GGUF tensors the way llama.cpp's build_lora_mm does. */
function applyLikeLlamaCpp(
  lora: { a: { dims: number[]; data: number[] }; b: { dims: number[]; data: number[] } },
  alpha: number,
  userScale: number,
  x: number[],
): number[] {
  const [inputs, rank] = lora.a.dims as [number, number];
  const outputs = lora.b.dims[1]!;
  const ax = Array.from({ length: rank }, (_, k) =>
    x.reduce((sum, xi, i) => sum + lora.a.data[k * inputs + i]! * xi, 0),
  );
  const scale = (userScale * alpha) / lora.b.dims[0]!;
  return Array.from({ length: outputs }, (_, o) => {
    const wx = W[o]!.reduce((sum, wi, i) => sum + wi * x[i]!, 0);
    return wx + scale * ax.reduce((sum, axk, k) => sum + lora.b.data[o * rank + k]! * axk, 0);
  });
}

describe("convertPeftToGguf", () => {
  it("writes the worked example's tensors and alpha, giving the documented outputs", async () => {
    const { metadata, tensors } = await readAdapter(convert(WORKED, {}, WORKED_BASE));
    const a = tensors.get("blk.0.attn_v.weight.lora_a")!;
    const b = tensors.get("blk.0.attn_v.weight.lora_b")!;
    expect(a).toEqual({ dims: [3, 2], dtype: 0, data: [1, 2, 0, 0, 1, 1] });
    expect(b).toEqual({ dims: [2, 2], dtype: 0, data: [1, 0, 2, -1] });
    expect(metadata["adapter.lora.alpha"]).toBe(4);

    const x = [1, -1, 2];
    expect(applyLikeLlamaCpp({ a, b }, 4, 1, x)).toEqual([3, -9]);
    expect(applyLikeLlamaCpp({ a, b }, 4, 0.5, x)).toEqual([4, -6]);
    expect(applyLikeLlamaCpp({ a, b }, 4, 0, x)).toEqual([5, -3]);
  });

  it("folds rsLoRA's alpha / sqrt(r) into B", async () => {
    const { metadata, tensors } = await readAdapter(convert(WORKED, { use_rslora: true }, WORKED_BASE));
    const lora = { a: tensors.get("blk.0.attn_v.weight.lora_a")!, b: tensors.get("blk.0.attn_v.weight.lora_b")! };
    expect(metadata["adapter.lora.alpha"]).toBe(4);
    const y = applyLikeLlamaCpp(lora, 4, 1, [1, -1, 2]);
    expect(y[0]).toBeCloseTo(2.171573, 5);
    expect(y[1]).toBeCloseTo(-11.485281, 5);
  });

  it("folds per-module rank and alpha patterns into B, keeping lora_alpha in the file", async () => {
    const O = `${P}.self_attn.o_proj`;
    const tensors: Tensors = {
      ...WORKED,
      [`${O}.lora_A.weight`]: { shape: [1, 3], data: [1, 1, 1] },
      [`${O}.lora_B.weight`]: { shape: [3, 1], data: [1, 2, 3] },
    };
    const info = base("qwen2", { "blk.0.attn_v.weight": [3, 2], "blk.0.attn_output.weight": [3, 3] });
    const config = { r: 2, lora_alpha: 4, rank_pattern: { o_proj: 1 }, alpha_pattern: { o_proj: 6, v_proj: 1 } };
    const { metadata, tensors: out } = await readAdapter(convert(tensors, config, info));
    expect(metadata["adapter.lora.alpha"]).toBe(4);
    // v: PEFT scale 1/2, llama.cpp applies 4/2, so B is multiplied by 1/4.
    expect(out.get("blk.0.attn_v.weight.lora_b")!.data).toEqual([0.25, 0, 0.5, -0.25]);
    // o: PEFT scale 6/1, llama.cpp applies 4/1, so B is multiplied by 1.5.
    expect(out.get("blk.0.attn_output.weight.lora_b")!.data).toEqual([1.5, 3, 4.5]);
  });

  it("reorders lora_B rows of q (head_count) and k (head_count_kv) on llama bases, nothing else", async () => {
    const rows = (n: number) => Array.from({ length: n }, (_, i) => i);
    const tensors: Tensors = {};
    for (const [name, out] of [
      ["q_proj", 8],
      ["k_proj", 4],
      ["v_proj", 4],
    ] as const) {
      tensors[`${P}.self_attn.${name}.lora_A.weight`] = { shape: [1, 8], data: rows(8) };
      tensors[`${P}.self_attn.${name}.lora_B.weight`] = { shape: [out, 1], data: rows(out) };
    }
    const shapes = { "blk.0.attn_q.weight": [8, 8], "blk.0.attn_k.weight": [8, 4], "blk.0.attn_v.weight": [8, 4] };
    const config = { r: 1, lora_alpha: 1 };

    const llama = (await readAdapter(convert(tensors, config, base("llama", shapes, 2, 1)))).tensors;
    expect(llama.get("blk.0.attn_q.weight.lora_b")!.data).toEqual([0, 2, 1, 3, 4, 6, 5, 7]); // 2 heads of 4
    expect(llama.get("blk.0.attn_k.weight.lora_b")!.data).toEqual([0, 2, 1, 3]); // 1 kv head of 4
    expect(llama.get("blk.0.attn_v.weight.lora_b")!.data).toEqual([0, 1, 2, 3]);
    expect(llama.get("blk.0.attn_q.weight.lora_a")!.data).toEqual(rows(8));

    const qwen2 = (await readAdapter(convert(tensors, config, base("qwen2", shapes, 2, 1)))).tensors;
    expect(qwen2.get("blk.0.attn_q.weight.lora_b")!.data).toEqual(rows(8));
    expect(qwen2.get("blk.0.attn_k.weight.lora_b")!.data).toEqual(rows(4));
  });

  it("stores the embedding's A transposed and maps lm_head to output", async () => {
    const E = "base_model.model.model.embed_tokens";
    const tensors: Tensors = {
      [`${E}.lora_embedding_A`]: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, // (r, vocab)
      [`${E}.lora_embedding_B`]: { shape: [4, 2], data: [1, 2, 3, 4, 5, 6, 7, 8] }, // (hidden, r)
      "base_model.model.lm_head.lora_A.weight": { shape: [2, 4], data: [1, 0, 0, 0, 0, 1, 0, 0] },
      "base_model.model.lm_head.lora_B.weight": { shape: [3, 2], data: [1, 2, 3, 4, 5, 6] },
    };
    const info = base("llama", { "token_embd.weight": [4, 3], "output.weight": [4, 3] }, 1);
    const { tensors: out } = await readAdapter(convert(tensors, { r: 2, lora_alpha: 2 }, info));
    expect(out.get("token_embd.weight.lora_a")).toEqual({ dims: [2, 3], dtype: 0, data: [1, 4, 2, 5, 3, 6] });
    expect(out.get("token_embd.weight.lora_b")).toEqual({ dims: [2, 4], dtype: 0, data: [1, 2, 3, 4, 5, 6, 7, 8] });
    expect(out.get("output.weight.lora_a")!.dims).toEqual([4, 2]);
    expect(out.get("output.weight.lora_b")!.dims).toEqual([2, 3]);
  });

  it("writes the adapter keys llama.cpp checks, in the base's tensor order", async () => {
    const info = base("qwen2", { "blk.0.attn_q.weight": [3, 2], "blk.0.attn_v.weight": [3, 2] });
    const Q = `${P}.self_attn.q_proj`;
    const tensors: Tensors = {
      ...WORKED,
      [`${Q}.lora_A.weight`]: WORKED[`${V}.lora_A.weight`]!,
      [`${Q}.lora_B.weight`]: WORKED[`${V}.lora_B.weight`]!,
    };
    const { metadata, tensors: out } = await readAdapter(convert(tensors, {}, info, { name: "my-adapter" }));
    expect(metadata).toMatchObject({
      "general.architecture": "qwen2",
      "general.type": "adapter",
      "general.name": "my-adapter",
      "adapter.type": "lora",
      "adapter.lora.alpha": 4,
    });
    expect([...out.keys()]).toEqual([
      "blk.0.attn_q.weight.lora_a",
      "blk.0.attn_q.weight.lora_b",
      "blk.0.attn_v.weight.lora_a",
      "blk.0.attn_v.weight.lora_b",
    ]);
  });

  it("reads F16 and BF16 sources and writes F16 when asked", async () => {
    const half = Object.fromEntries(Object.entries(WORKED).map(([k, t]) => [k, { ...t, dtype: "F16" as const }]));
    const brain = Object.fromEntries(Object.entries(WORKED).map(([k, t]) => [k, { ...t, dtype: "BF16" as const }]));
    const reference = convert(WORKED, {}, WORKED_BASE);
    expect(Buffer.from(convert(half, {}, WORKED_BASE)).equals(Buffer.from(reference))).toBe(true);
    expect(Buffer.from(convert(brain, {}, WORKED_BASE)).equals(Buffer.from(reference))).toBe(true);

    const { tensors } = await readAdapter(convert(WORKED, {}, WORKED_BASE, { outType: "f16" }));
    expect(tensors.get("blk.0.attn_v.weight.lora_b")).toEqual({ dims: [2, 2], dtype: 1, data: [1, 0, 2, -1] });
  });

  describe("refuses what llama.cpp cannot represent, with a clear message", () => {
    const A = `${V}.lora_A.weight`;
    const cases: [string, () => unknown, new (...args: never[]) => Error, RegExp][] = [
      [
        "another PEFT method",
        () => convert(WORKED, { peft_type: "LOHA" }, WORKED_BASE),
        UnsupportedPeftTypeError,
        /peft_type "LOHA" is not supported/,
      ],
      [
        "DoRA in the config",
        () => convert(WORKED, { use_dora: true }, WORKED_BASE),
        DoraNotSupportedError,
        /DoRA adapters .* cannot be represented/,
      ],
      [
        "DoRA magnitude tensors",
        () => convert({ ...WORKED, [`${V}.lora_magnitude_vector`]: { shape: [2], data: [1, 1] } }, {}, WORKED_BASE),
        DoraNotSupportedError,
        /lora_magnitude_vector/,
      ],
      [
        "modules_to_save weights",
        () =>
          convert(
            { ...WORKED, "base_model.model.lm_head.weight": { shape: [2, 2], data: [1, 2, 3, 4] } },
            { modules_to_save: ["lm_head"] },
            WORKED_BASE,
          ),
        ModulesToSaveError,
        /full weights saved through modules_to_save \(base_model\.model\.lm_head\.weight\)/,
      ],
      [
        "bias training",
        () => convert(WORKED, { bias: "all" }, WORKED_BASE),
        LoraBiasError,
        /bias training \(bias="all"\)/,
      ],
      [
        "lora_bias",
        () => convert(WORKED, { lora_bias: true }, WORKED_BASE),
        LoraBiasError,
        /bias training \(lora_bias=true\)/,
      ],
      [
        "a bias tensor",
        () => convert({ ...WORKED, [`${V}.lora_B.bias`]: { shape: [2], data: [0, 0] } }, {}, WORKED_BASE),
        LoraBiasError,
        /bias training \(tensor .*v_proj\.lora_B\.bias\)/,
      ],
      [
        "fan_in_fan_out",
        () => convert(WORKED, { fan_in_fan_out: true }, WORKED_BASE),
        FanInFanOutError,
        /fan_in_fan_out=true .* is not supported/,
      ],
      [
        "an A without its B",
        () => convert({ [A]: WORKED[A]! }, {}, WORKED_BASE),
        IncompleteLoraPairError,
        /only one of lora_A \/ lora_B: model\.layers\.0\.self_attn\.v_proj/,
      ],
      [
        "alpha 0",
        () => convert(WORKED, { lora_alpha: 0 }, WORKED_BASE),
        ZeroAlphaError,
        /lora_alpha is 0, which llama\.cpp reads as "no alpha scaling"/,
      ],
      [
        "a fused attn_qkv base",
        () => convert(WORKED, {}, base("qwen2", { "blk.0.attn_qkv.weight": [3, 6] })),
        FusedQkvBaseError,
        /fuses attention into blk\.0\.attn_qkv\.weight/,
      ],
      [
        "unknown module names",
        () =>
          convert(
            {
              ...WORKED,
              "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight": { shape: [2, 3], data: [0, 0, 0, 0, 0, 0] },
              "base_model.model.model.norm.weight": { shape: [3], data: [1, 1, 1] },
            },
            {},
            WORKED_BASE,
          ),
        UnknownModuleError,
        /not LoRA weights of a known .* module .*: base_model\.model\.transformer\.h\.0\.attn\.c_attn\.lora_A\.weight, base_model\.model\.model\.norm\.weight/,
      ],
      [
        "a base architecture without a mapping",
        () => convert(WORKED, {}, base("phi3", { "blk.0.attn_v.weight": [3, 2] })),
        ArchitectureMismatchError,
        /architecture "phi3" has no PEFT name mapping/,
      ],
      [
        "shapes of another model",
        () => convert(WORKED, {}, base("qwen2", { "blk.0.attn_v.weight": [4, 2] })),
        ShapeMismatchError,
        /does not fit the base model .*blk\.0\.attn_v\.weight: base \[4, 2\], lora_a \[3, 2\], lora_b \[2, 2\]/,
      ],
      [
        "a module the base lacks",
        () =>
          convert(
            {
              "base_model.model.lm_head.lora_A.weight": WORKED[A]!,
              "base_model.model.lm_head.lora_B.weight": WORKED[`${V}.lora_B.weight`]!,
            },
            {},
            base("qwen2", { "token_embd.weight": [3, 2] }),
          ),
        ShapeMismatchError,
        /output\.weight is not in the base model \(the base ties lm_head to the embeddings\)/,
      ],
      [
        "embedding LoRA on a base with tied output",
        () =>
          convert(
            {
              "base_model.model.model.embed_tokens.lora_embedding_A": { shape: [2, 2], data: [1, 2, 3, 4] },
              "base_model.model.model.embed_tokens.lora_embedding_B": { shape: [3, 2], data: [1, 2, 3, 4, 5, 6] },
            },
            {},
            base("qwen2", { "token_embd.weight": [3, 2] }),
          ),
        TiedEmbeddingLoraError,
        /ties its output layer to token_embd/,
      ],
      [
        "a rank the config contradicts",
        () => convert(WORKED, { r: 4 }, WORKED_BASE),
        AdapterConfigError,
        /v_proj has rank 2 in the weights but 4 in the config/,
      ],
      [
        "NaN weights",
        () => convert({ ...WORKED, [A]: { shape: [2, 3], data: [1, Number.NaN, 0, 0, 1, 1] } }, {}, WORKED_BASE),
        NonFiniteWeightsError,
        /v_proj\.lora_A\.weight contains NaN or infinite values/,
      ],
      [
        "F16 output that overflows",
        () => convert(WORKED, { alpha_pattern: { v_proj: 1e6 } }, WORKED_BASE, { outType: "f16" }),
        NonFiniteWeightsError,
        /exceeds the float16 range once scaled; convert with F32 output/,
      ],
      [
        "a llama base without head counts",
        () =>
          convert(
            {
              [`${P}.self_attn.q_proj.lora_A.weight`]: WORKED[A]!,
              [`${P}.self_attn.q_proj.lora_B.weight`]: WORKED[`${V}.lora_B.weight`]!,
            },
            {},
            base("llama", { "blk.0.attn_q.weight": [3, 2] }),
          ),
        InvalidBaseModelError,
        /no llama\.attention\.head_count/,
      ],
    ];
    it.each(cases)("%s", (_case, run, errorClass, message) => {
      expect(run).toThrow(errorClass);
      expect(run).toThrow(message);
    });

    it("gives every refusal a distinct stable code", () => {
      const codes = new Map<string, string>();
      for (const [, run, errorClass] of cases) {
        try {
          run();
        } catch (error) {
          codes.set(errorClass.name, (error as { code: string }).code);
        }
      }
      expect(new Set(codes.values()).size).toBe(codes.size);
      for (const code of codes.values()) expect(code).toMatch(/^lora_[a-z0-9_]+$/);
    });
  });
});
