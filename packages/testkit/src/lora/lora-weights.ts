import { unitRandom } from "../gguf/prng.ts";
import { tinyLlamaMetadata, type TinyLlamaOptions } from "../gguf/tiny-llama.ts";
import { decodeHalf, encodeHalf } from "./half-precision.ts";
import type { SafetensorsDtype } from "./write-safetensors.ts";

/** The transformers modules a tiny LoRA can adapt (Llama, Mistral and Qwen2 share these names). */
export type LoraTargetModule =
  | "q_proj"
  | "k_proj"
  | "v_proj"
  | "o_proj"
  | "gate_proj"
  | "up_proj"
  | "down_proj"
  | "embed_tokens"
  | "lm_head";

export interface TinyLoraOptions {
  /** The base model (generateTinyLlama options); the same for the base, the adapter's shapes and the merged model. */
  base?: TinyLlamaOptions;
  /** Seed of the adapter weights. Default 1. */
  seed?: number;
  /** `r`. Default 4. */
  r?: number;
  /** `lora_alpha`. Default 8. */
  alpha?: number;
  useRslora?: boolean;
  rankPattern?: Readonly<Record<string, number>>;
  alphaPattern?: Readonly<Record<string, number>>;
  /** Default: the attention and MLP projections. */
  targetModules?: readonly LoraTargetModule[];
  /** Storage type of lora_A / lora_B. Default "F32". */
  dtype?: SafetensorsDtype;
  /** Std of each module's delta s·B·A relative to the std of the weight it changes. Default 1: clearly visible. */
  strength?: number;
  /** `base_model_name_or_path`. Default "tiny/base". */
  baseModelName?: string;
}

/** One adapted module: its LoRA factors exactly as stored, and where they apply. */
export interface LoraModuleWeights {
  /** transformers module path, e.g. `model.layers.0.self_attn.q_proj`. */
  module: string;
  /** The GGUF tensor the delta lands on, e.g. `blk.0.attn_q.weight`. */
  tensor: string;
  embedding: boolean;
  rank: number;
  /** PEFT's scaling for this module: alpha / r (or alpha / sqrt(r) with rsLoRA), patterns applied. */
  scaling: number;
  /** lora_A: (r, in), or lora_embedding_A: (r, vocab). Row-major, already rounded to the dtype. */
  a: Float32Array;
  aShape: readonly [number, number];
  /** lora_B: (out, r), or lora_embedding_B: (hidden, r). */
  b: Float32Array;
  bShape: readonly [number, number];
}

export const DEFAULT_LORA_TARGETS: readonly LoraTargetModule[] = [
  "q_proj",
  "k_proj",
  "v_proj",
  "o_proj",
  "gate_proj",
  "up_proj",
  "down_proj",
];

/** Draws the seeded LoRA factors of every targeted module of the tiny base. */
export function drawLoraWeights(options: TinyLoraOptions): LoraModuleWeights[] {
  const metadata = tinyLlamaMetadata(options.base);
  const architecture = metadata["general.architecture"]!.value as string;
  const number = (key: string) => Number(metadata[`${architecture}.${key}`]!.value);
  const hidden = number("embedding_length");
  const kv = (hidden / number("attention.head_count")) * number("attention.head_count_kv");
  const ff = number("feed_forward_length");
  const vocab = number("vocab_size");
  // [transformers suffix, GGUF name, out, in] of each per-layer module.
  const layerModules: Partial<Record<LoraTargetModule, [string, string, number, number]>> = {
    q_proj: ["self_attn.q_proj", "attn_q", hidden, hidden],
    k_proj: ["self_attn.k_proj", "attn_k", kv, hidden],
    v_proj: ["self_attn.v_proj", "attn_v", kv, hidden],
    o_proj: ["self_attn.o_proj", "attn_output", hidden, hidden],
    gate_proj: ["mlp.gate_proj", "ffn_gate", ff, hidden],
    up_proj: ["mlp.up_proj", "ffn_up", ff, hidden],
    down_proj: ["mlp.down_proj", "ffn_down", hidden, ff],
  };

  const modules: LoraModuleWeights[] = [];
  const targets = options.targetModules ?? DEFAULT_LORA_TARGETS;
  if (targets.includes("embed_tokens"))
    modules.push(draw(options, "model.embed_tokens", "token_embd.weight", hidden, vocab, true));
  for (let layer = 0; layer < number("block_count"); layer++) {
    for (const target of targets) {
      const entry = layerModules[target];
      if (!entry) continue;
      const [suffix, name, out, inputs] = entry;
      modules.push(draw(options, `model.layers.${layer}.${suffix}`, `blk.${layer}.${name}.weight`, out, inputs, false));
    }
  }
  if (targets.includes("lm_head")) modules.push(draw(options, "lm_head", "output.weight", vocab, hidden, false));
  return modules;
}

/**
 * One module's factors. Linear: A (r, in), B (out, r). Embedding: A (r, vocab), B (hidden, r), passed here as
 * out = hidden, inputs = vocab. B is scaled so that the delta's std is `strength` times the weight's own std
 * (1/sqrt(in) for projections, 1 for embeddings).
 */
function draw(
  options: TinyLoraOptions,
  module: string,
  tensor: string,
  out: number,
  inputs: number,
  embedding: boolean,
): LoraModuleWeights {
  const rank = patternValue(options.rankPattern, module) ?? options.r ?? 4;
  const alpha = patternValue(options.alphaPattern, module) ?? options.alpha ?? 8;
  const scaling = alpha / (options.useRslora ? Math.sqrt(rank) : rank);
  const aStd = embedding ? 1 : 1 / Math.sqrt(inputs);
  const deltaStd = (options.strength ?? 1) * aStd;
  // (A zero scaling, alpha 0, makes no delta whatever B is: any std will do.)
  const bStd = deltaStd / ((Math.abs(scaling) || 1) * Math.sqrt(rank) * aStd);
  const seed = options.seed ?? 1;
  const dtype = options.dtype ?? "F32";
  return {
    module,
    tensor,
    embedding,
    rank,
    scaling,
    a: factor(seed, `${module}.A`, rank * inputs, aStd, dtype),
    aShape: [rank, inputs],
    b: factor(seed, `${module}.B`, out * rank, bStd, dtype),
    bShape: [out, rank],
  };
}

function factor(seed: number, name: string, length: number, std: number, dtype: SafetensorsDtype): Float32Array {
  const random = unitRandom(seed, name);
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const value = random() * std;
    values[i] = dtype === "F32" ? value : decodeHalf(dtype, encodeHalf(dtype, value));
  }
  return values;
}

/** PEFT's rank_pattern / alpha_pattern lookup: the first key k for which `^(.*\.)?(k)$` matches the module path. */
function patternValue(patterns: Readonly<Record<string, number>> | undefined, module: string): number | undefined {
  const key = Object.keys(patterns ?? {}).find((pattern) => new RegExp(`^(.*\\.)?(${pattern})$`).test(module));
  return key === undefined ? undefined : patterns![key];
}
