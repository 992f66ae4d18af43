import { InvalidModelConfigError, UnsupportedArchitectureError } from "./errors.ts";
import type { GgufValue } from "../formats/index.ts";

/**
 * The transformers architectures we convert, as llama.cpp's convert_hf_to_gguf.py converts them (conversion/base.py
 * TextModel, llama.py LlamaModel, qwen.py Qwen2Model/Qwen3Model, gemma.py Gemma3Model): hyperparameters to GGUF
 * keys, Hugging Face tensor names to llama.cpp's, and the per-tensor changes (q/k row permutation for Llama's RoPE,
 * Gemma's norm offset, Llama 3's rope_freqs).
 */
export interface ArchitecturePlan {
  /** config.json's class, e.g. LlamaForCausalLM. */
  hfArchitecture: string;
  /** `general.architecture`. */
  ggufArchitecture: "llama" | "qwen2" | "qwen3" | "gemma3";
  /** `{arch}.*` and rope keys, in llama.cpp's order. */
  metadata: Record<string, GgufValue>;
  /** The llama3 rope_freqs factors, when rope_scaling asks for them. */
  ropeFreqs: Float32Array | undefined;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  layers: number;
  /** config.json's vocab_size (tokens are padded to it). */
  vocabSize: number | undefined;
  /** Q and K rows permuted (LlamaModel.permute) — Llama and Mistral only. */
  permuteQK: boolean;
  /** Added to every `*norm.weight` (Gemma3RMSNorm scales by 1 + w). */
  normShift: number;
  /** Trim token_embd to the tokenizer's size (Gemma3 drops out-of-vocabulary rows). */
  trimEmbeddings: boolean;
}

export const SUPPORTED_ARCHITECTURES = [
  "LlamaForCausalLM",
  "MistralForCausalLM",
  "Qwen2ForCausalLM",
  "Qwen3ForCausalLM",
  "Gemma3ForCausalLM",
] as const;

const GGUF_ARCH: Record<(typeof SUPPORTED_ARCHITECTURES)[number], ArchitecturePlan["ggufArchitecture"]> = {
  LlamaForCausalLM: "llama",
  MistralForCausalLM: "llama",
  Qwen2ForCausalLM: "qwen2",
  Qwen3ForCausalLM: "qwen3",
  Gemma3ForCausalLM: "gemma3",
};

type Config = Record<string, unknown>;

/** Reads config.json's hyperparameters into the plan; refuses other architectures by name. */
export function planArchitecture(rawConfig: Config): ArchitecturePlan {
  const architectures = rawConfig["architectures"];
  const hfArchitecture =
    Array.isArray(architectures) && typeof architectures[0] === "string" ? architectures[0] : undefined;
  if (hfArchitecture === undefined)
    throw new InvalidModelConfigError("config.json", "it names no architecture (`architectures`)");
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(hfArchitecture))
    throw new UnsupportedArchitectureError(hfArchitecture, SUPPORTED_ARCHITECTURES);
  const hf = hfArchitecture as (typeof SUPPORTED_ARCHITECTURES)[number];
  const arch = GGUF_ARCH[hf];
  // llama.cpp moves a text_config to the root.
  const config: Config =
    typeof rawConfig["text_config"] === "object" && rawConfig["text_config"] !== null
      ? { ...rawConfig, ...(rawConfig["text_config"] as Config) }
      : rawConfig;
  const find = (keys: readonly string[]): number | undefined => {
    for (const key of keys) {
      const value = config[key];
      if (value !== undefined && value !== null) {
        if (typeof value !== "number" || !Number.isFinite(value))
          throw new InvalidModelConfigError("config.json", `${key} is not a number`);
        return value;
      }
    }
    return undefined;
  };
  const required = (keys: readonly string[]): number => {
    const value = find(keys);
    if (value === undefined || !Number.isInteger(value) || value < 1)
      throw new InvalidModelConfigError("config.json", `${keys[0]} is missing or not a positive integer`);
    return value;
  };
  const gemma = arch === "gemma3";
  const layers = required(["n_layers", "num_hidden_layers", "n_layer", "num_layers"]);
  const hidden = required(["hidden_size", "n_embd", "dim"]);
  const heads = gemma ? (find(["num_attention_heads"]) ?? 8) : required(["num_attention_heads", "n_head", "n_heads"]);
  const kvHeads = gemma ? (find(["num_key_value_heads"]) ?? 4) : (find(["num_key_value_heads", "n_kv_heads"]) ?? heads);
  const explicitHeadDim = find(["head_dim"]);
  const headDim = explicitHeadDim ?? (gemma ? 256 : hidden / heads);
  if (!Number.isInteger(headDim))
    throw new InvalidModelConfigError("config.json", "hidden_size is not a multiple of num_attention_heads");

  const u32 = (value: number) => ({ type: "uint32", value }) as const;
  const f32 = (value: number) => ({ type: "float32", value }) as const;
  const metadata: Record<string, GgufValue> = {};
  const key = (name: string, value: GgufValue) => (metadata[`${arch}.${name}`] = value);

  // TextModel.set_gguf_parameters
  key("block_count", u32(layers));
  const context = gemma
    ? (find(["max_position_embeddings"]) ?? 131072)
    : find([
        "max_position_embeddings",
        "n_ctx",
        "n_positions",
        "max_length",
        "max_sequence_length",
        "model_max_length",
      ]);
  if (context !== undefined) key("context_length", u32(context));
  key("embedding_length", u32(hidden));
  const ff = find([
    "prefix_dense_intermediate_size",
    "dense_intermediate_size",
    "intermediate_size",
    "n_inner",
    "hidden_dim",
  ]);
  if (ff !== undefined) key("feed_forward_length", u32(ff));
  key("attention.head_count", u32(heads));
  if (gemma || find(["num_key_value_heads", "n_kv_heads"]) !== undefined) key("attention.head_count_kv", u32(kvHeads));

  const rope = ropeParameters(config);
  const ropeType =
    typeof rope["rope_type"] === "string"
      ? rope["rope_type"]
      : typeof rope["type"] === "string"
        ? rope["type"]
        : undefined;
  const factor = typeof rope["factor"] === "number" ? rope["factor"] : undefined;
  let ropeFreqs: Float32Array | undefined;
  if (ropeType !== undefined && ropeType !== "default") {
    if (ropeType === "linear" && factor !== undefined) {
      key("rope.scaling.type", { type: "string", value: "linear" });
      key("rope.scaling.factor", f32(factor));
    } else if (ropeType === "yarn" && factor !== undefined) {
      key("rope.scaling.type", { type: "string", value: "yarn" });
      key("rope.scaling.factor", f32(factor));
      const original = rope["original_max_position_embeddings"];
      if (typeof original !== "number")
        throw new InvalidModelConfigError("config.json", "yarn rope_scaling has no original_max_position_embeddings");
      key("rope.scaling.original_context_length", u32(original));
      const number = (name: string) => (typeof rope[name] === "number" ? (rope[name] as number) : undefined);
      const ext = number("extrapolation_factor");
      if (ext !== undefined) key("rope.scaling.yarn_ext_factor", f32(ext));
      const attn = number("attention_factor") ?? number("attn_factor");
      if (attn !== undefined) key("rope.scaling.yarn_attn_factor", f32(attn));
      const fast = number("beta_fast");
      if (fast !== undefined) key("rope.scaling.yarn_beta_fast", f32(fast));
      const slow = number("beta_slow");
      if (slow !== undefined) key("rope.scaling.yarn_beta_slow", f32(slow));
    } else if (ropeType.toLowerCase() === "llama3") {
      if (arch !== "llama") throw new InvalidModelConfigError("config.json", `rope_scaling of type llama3 on ${hf}`);
      ropeFreqs = llama3RopeFactors(rope, headDim);
    } else {
      throw new InvalidModelConfigError(
        "config.json",
        `rope_scaling of type ${JSON.stringify(ropeType)} is not supported (linear, yarn, llama3)`,
      );
    }
  }
  const theta = typeof rope["rope_theta"] === "number" ? rope["rope_theta"] : gemma ? 1_000_000 : undefined;
  if (theta !== undefined) key("rope.freq_base", f32(theta));
  const localTheta = find([
    "local_rope_theta",
    "rope_local_theta",
    "rope_theta_local",
    "swa_rope_theta",
    "rope_local_base_freq",
  ]);
  if (localTheta !== undefined) key("rope.freq_base_swa", f32(localTheta));
  const eps = gemma ? (find(["rms_norm_eps"]) ?? 1e-6) : find(["rms_norm_eps", "norm_eps"]);
  if (eps !== undefined) key("attention.layer_norm_rms_epsilon", f32(eps));
  if (explicitHeadDim !== undefined || gemma) {
    key("attention.key_length", u32(headDim));
    key("attention.value_length", u32(headDim));
  }

  const vocabSize = find(["vocab_size"]);
  if (arch === "llama") {
    if (vocabSize === undefined) throw new InvalidModelConfigError("config.json", "vocab_size is missing");
    key("vocab_size", u32(vocabSize));
    key("rope.dimension_count", u32(headDim));
  }
  if (gemma) {
    if (config["attn_logit_softcapping"] !== undefined && config["attn_logit_softcapping"] !== null) {
      throw new InvalidModelConfigError("config.json", "attn_logit_softcapping is set, which Gemma 3 does not use");
    }
    const softcap = find(["final_logit_softcapping"]);
    if (softcap) key("final_logit_softcapping", f32(softcap));
    if (config["sliding_window_pattern"] !== 1) {
      const window = find(["sliding_window"]);
      if (window === undefined) throw new InvalidModelConfigError("config.json", "sliding_window is missing");
      key("attention.sliding_window", u32(window));
    }
  }
  const quantization = config["quantization_config"];
  if (typeof quantization === "object" && quantization !== null) {
    const method = (quantization as { quant_method?: unknown }).quant_method;
    throw new InvalidModelConfigError(
      "config.json",
      `pre-quantized checkpoints (quantization_config${typeof method === "string" ? `: ${method}` : ""}) cannot be converted; use the unquantized weights`,
    );
  }
  const refused = ["num_local_experts", "num_experts"].filter(
    (name) => typeof config[name] === "number" && (config[name] as number) > 0,
  );
  if (refused.length > 0)
    throw new InvalidModelConfigError(
      "config.json",
      `mixture-of-experts models (${refused.join(", ")}) are not supported`,
    );

  return {
    hfArchitecture: hf,
    ggufArchitecture: arch,
    metadata,
    ropeFreqs,
    hidden,
    heads,
    kvHeads,
    headDim,
    layers,
    vocabSize,
    permuteQK: arch === "llama",
    normShift: gemma ? 1 : 0,
    trimEmbeddings: gemma,
  };
}

/** TextModel's rope_parameters: rope_parameters or rope_scaling, with rope_theta mirrored in. */
function ropeParameters(config: Config): Record<string, unknown> {
  const raw = config["rope_parameters"] ?? config["rope_scaling"];
  const rope: Record<string, unknown> =
    typeof raw === "object" && raw !== null ? { ...(raw as Record<string, unknown>) } : {};
  const full = rope["full_attention"];
  if (typeof full === "object" && full !== null) return full as Record<string, unknown>;
  for (const name of ["global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"]) {
    if (rope["rope_theta"] === undefined && typeof config[name] === "number") rope["rope_theta"] = config[name];
  }
  if (
    rope["original_max_position_embeddings"] === undefined &&
    typeof config["original_max_position_embeddings"] === "number"
  ) {
    rope["original_max_position_embeddings"] = config["original_max_position_embeddings"];
  }
  return rope;
}

/** LlamaModel.generate_extra_tensors: per-frequency rope factors, computed in float32 as torch does. */
export function llama3RopeFactors(rope: Record<string, unknown>, dim: number): Float32Array {
  const number = (name: string, fallback: number) =>
    typeof rope[name] === "number" ? (rope[name] as number) : fallback;
  const base = number("rope_theta", 10000);
  const factor = number("factor", 8);
  const low = number("low_freq_factor", 1);
  const high = number("high_freq_factor", 4);
  const oldContext = number("original_max_position_embeddings", 8192);
  const f = Math.fround;
  const lowWavelen = oldContext / low;
  const highWavelen = oldContext / high;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = f(1 / f(base ** f(f(2 * i) / dim)));
    const wavelen = f((2 * Math.PI) / freq);
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = f((f(oldContext / wavelen) - low) / (high - low));
      out[i] = f(1 / f(f(f(1 - smooth) / factor) + smooth));
    }
  }
  return out;
}

/**
 * The GGUF name of a Hugging Face tensor, or undefined when llama.cpp drops it (rotary inv_freq), or null when the
 * architecture has no place for it.
 */
export function ggufTensorName(plan: ArchitecturePlan, name: string): string | undefined | null {
  if (
    name.endsWith(".rotary_emb.inv_freq") ||
    name.endsWith(".attention.masked_bias") ||
    name.endsWith(".attention.bias")
  )
    return undefined;
  if (name === "model.embed_tokens.weight") return "token_embd.weight";
  if (name === "model.norm.weight") return "output_norm.weight";
  if (name === "lm_head.weight") return "output.weight";
  const match = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!match || Number(match[1]) >= plan.layers) return null;
  const gemma = plan.ggufArchitecture === "gemma3";
  const qkNorm = plan.ggufArchitecture === "qwen3" || gemma;
  // llama.cpp loads optional q/k/v biases for llama (attention_bias) and requires them for qwen2.
  const bias = plan.ggufArchitecture === "qwen2" || plan.ggufArchitecture === "llama";
  const table: Record<string, string | false> = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": bias && "attn_q.bias",
    "self_attn.k_proj.bias": bias && "attn_k.bias",
    "self_attn.v_proj.bias": bias && "attn_v.bias",
    "self_attn.q_norm.weight": qkNorm && "attn_q_norm.weight",
    "self_attn.k_norm.weight": qkNorm && "attn_k_norm.weight",
    "post_attention_layernorm.weight": gemma ? "post_attention_norm.weight" : "ffn_norm.weight",
    "pre_feedforward_layernorm.weight": gemma && "ffn_norm.weight",
    "post_feedforward_layernorm.weight": gemma && "post_ffw_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
  };
  const mapped = Object.hasOwn(table, match[2]!) ? table[match[2]!] : false;
  return mapped ? `blk.${match[1]}.${mapped}` : null;
}

/** The GGUF tensors llama.cpp's loader requires for this plan (output.weight is optional: tied embeddings). */
export function requiredTensors(plan: ArchitecturePlan): string[] {
  const names = ["token_embd.weight", "output_norm.weight"];
  const perLayer = [
    "attn_norm",
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_norm",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
  ];
  if (plan.ggufArchitecture === "qwen2") perLayer.push("attn_q.bias", "attn_k.bias", "attn_v.bias");
  if (plan.ggufArchitecture === "qwen3" || plan.ggufArchitecture === "gemma3")
    perLayer.push("attn_q_norm", "attn_k_norm");
  if (plan.ggufArchitecture === "gemma3") perLayer.push("post_attention_norm", "post_ffw_norm");
  for (let layer = 0; layer < plan.layers; layer++) {
    for (const name of perLayer) names.push(`blk.${layer}.${name.endsWith(".bias") ? name : `${name}.weight`}`);
  }
  return names;
}
