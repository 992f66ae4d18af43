import { permuteForLlamaRope } from "../gguf/llama-rope-permute.ts";
import {
  writeGguf,
  type GgmlType,
  type GgufMetadata,
  type GgufMetadataValue,
  type GgufTensor,
} from "../gguf/writer.ts";
import { toFloat16Bits } from "../gguf/float16.ts";
import type { TransformersModel } from "./generate-transformers-model.ts";

/**
 * The GGUF a generated transformers model should convert to, written by the test kit's own GGUF writer from the
 * same tensors, with its own name table, q/k permutation (permuteForLlamaRope) and Gemma norm offset — independent of
 * the service's converter, so comparing the two in llama.cpp checks the converter. Tokenizer entries are taken as
 * given (the tokenizer is checked against llama.cpp's own vocabularies elsewhere).
 */
export interface ReferenceGgufOptions {
  /** `tokenizer.*` entries (e.g. read from the converted file). */
  tokenizer: GgufMetadata;
  /** Storage type of the 2-D weights (norms and biases F32). Default "f16". */
  tensorType?: GgmlType;
}

const ARCH: Record<string, string> = {
  LlamaForCausalLM: "llama",
  MistralForCausalLM: "llama",
  Qwen2ForCausalLM: "qwen2",
  Qwen3ForCausalLM: "qwen3",
  Gemma3ForCausalLM: "gemma3",
};

const LAYER_NAMES: Record<string, string> = {
  input_layernorm: "attn_norm",
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "self_attn.q_norm": "attn_q_norm",
  "self_attn.k_norm": "attn_k_norm",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
  pre_feedforward_layernorm: "ffn_norm",
  post_feedforward_layernorm: "post_ffw_norm",
};

export function writeReferenceGguf(model: TransformersModel, options: ReferenceGgufOptions): Uint8Array {
  const config = model.config as Record<string, unknown>;
  const hfArch = (config["architectures"] as unknown as string[])[0]!;
  const arch = ARCH[hfArch]!;
  const gemma = arch === "gemma3";
  const heads = config["num_attention_heads"] as number;
  const kvHeads = config["num_key_value_heads"] as number;
  const hidden = config["hidden_size"] as number;
  const headDim = (config["head_dim"] as number | null | undefined) ?? hidden / heads;
  const type = options.tensorType ?? "f16";
  const u32 = (value: number): GgufMetadataValue => ({ type: "uint32", value });
  const f32 = (value: number): GgufMetadataValue => ({ type: "float32", value });
  const metadata: Record<string, GgufMetadataValue> = {
    "general.architecture": { type: "string", value: arch },
    [`${arch}.block_count`]: u32(config["num_hidden_layers"] as number),
    [`${arch}.context_length`]: u32(config["max_position_embeddings"] as number),
    [`${arch}.embedding_length`]: u32(hidden),
    [`${arch}.feed_forward_length`]: u32(config["intermediate_size"] as number),
    [`${arch}.attention.head_count`]: u32(heads),
    [`${arch}.attention.head_count_kv`]: u32(kvHeads),
    [`${arch}.rope.freq_base`]: f32(config["rope_theta"] as number),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(config["rms_norm_eps"] as number),
    [`${arch}.attention.key_length`]: u32(headDim),
    [`${arch}.attention.value_length`]: u32(headDim),
    ...(arch === "llama" ? { [`${arch}.rope.dimension_count`]: u32(headDim) } : {}),
    ...(gemma ? { [`${arch}.attention.sliding_window`]: u32(config["sliding_window"] as number) } : {}),
    ...options.tokenizer,
  };

  const tensors: GgufTensor[] = [];
  for (const source of model.tensors) {
    const name = ggufName(source.name, gemma);
    const values = Float32Array.from(source.data);
    let data: Float32Array = values;
    const [rows, columns] = source.shape.length === 2 ? [source.shape[0]!, source.shape[1]!] : [source.shape[0]!, 1];
    if (arch === "llama" && /\.self_attn\.[qk]_proj\.weight$/.test(source.name)) {
      data = permuteForLlamaRope(values, rows, columns, source.name.includes("q_proj") ? heads : kvHeads);
    }
    if (gemma && source.name.endsWith("norm.weight")) {
      // Gemma3RMSNorm multiplies by (1 + w); llama.cpp's converter adds the 1 in the stored precision.
      data = data.map((w) => (source.dtype === "F16" ? halfRound(w + 1) : w + 1));
    }
    const oneD = source.shape.length === 1;
    const tensorType: GgmlType = oneD || name.endsWith("_norm.weight") ? "f32" : type;
    const dims = oneD ? [columns === 1 ? rows : columns] : [columns, rows];
    const final = data;
    if (tensorType === "f16")
      tensors.push({
        name,
        dims,
        type: "f16",
        fill: (out: Uint16Array) => {
          for (let i = 0; i < out.length; i++) out[i] = toFloat16Bits(final[i]!);
        },
      });
    else tensors.push({ name, dims, type: tensorType, fill: (out: Float32Array) => out.set(final) });
  }
  return writeGguf({ metadata, tensors });
}

function ggufName(name: string, gemma: boolean): string {
  if (name === "model.embed_tokens.weight") return "token_embd.weight";
  if (name === "model.norm.weight") return "output_norm.weight";
  if (name === "lm_head.weight") return "output.weight";
  const match = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!match) throw new Error(`no GGUF name for ${name}`);
  const part =
    match[2] === "post_attention_layernorm" ? (gemma ? "post_attention_norm" : "ffn_norm") : LAYER_NAMES[match[2]!];
  if (!part) throw new Error(`no GGUF name for ${name}`);
  return `blk.${match[1]}.${part}.${match[3]}`;
}

const view = new DataView(new ArrayBuffer(2));
function halfRound(value: number): number {
  view.setUint16(0, toFloat16Bits(value));
  const bits = view.getUint16(0);
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  return exponent === 0 ? sign * fraction * 2 ** -24 : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
