import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { unitRandom } from "../gguf/prng.ts";
import { decodeHalf, encodeHalf } from "../lora/half-precision.ts";
import { writeSafetensors, type SafetensorsDtype, type SafetensorsTensor } from "../lora/write-safetensors.ts";
import { readRealTokenizer, tokenizerSize, truncateTokenizer, type RealTokenizerName } from "./real-tokenizer.ts";
import { syntheticTokenizer, type TokenizerFiles } from "./synthetic-tokenizer.ts";

/** The transformers causal-LM classes the generator writes (text only). */
export type TransformersArchitecture =
  | "LlamaForCausalLM"
  | "MistralForCausalLM"
  | "Qwen2ForCausalLM"
  | "Qwen3ForCausalLM"
  | "Gemma3ForCausalLM";

export interface TransformersModelOptions {
  architecture: TransformersArchitecture;
  /** Folder to write (created if missing). */
  dir: string;
  /** Seed of the weights (uint32). Default 1. */
  seed?: number;
  hiddenSize?: number;
  intermediateSize?: number;
  numLayers?: number;
  numHeads?: number;
  numKvHeads?: number;
  /** `head_dim` (Qwen3 and Gemma3 write it; others derive hidden / heads). Default hidden / heads. */
  headDim?: number;
  /** Storage dtype of the safetensors weights. Default "F16". */
  dtype?: SafetensorsDtype;
  /**
   * "synthetic" (default): a small byte-level BPE made up for tests; a real tokenizer from `@lenml/tokenizer-*`; or
   * tokenizer files given as they are.
   */
  tokenizer?: "synthetic" | RealTokenizerName | TokenizerFiles;
  /** A SentencePiece `tokenizer.model` to write beside the tokenizer files (see writeSentencePieceModel). */
  tokenizerModel?: Uint8Array;
  /** With a real tokenizer: keep only this many base-vocabulary ids (added tokens renumbered after them). */
  truncateVocab?: number;
  /** `vocab_size` in config.json when larger than the tokenizer (padding rows, as Qwen ships). */
  vocabSize?: number;
  /** Default: true for Qwen2/Qwen3/Gemma3 (as the small releases), false for Llama/Mistral. Gemma3 always ties. */
  tieWordEmbeddings?: boolean;
  ropeTheta?: number;
  /** Written as `rope_scaling`, e.g. `{ rope_type: "llama3", factor: 8, ... }`. */
  ropeScaling?: Record<string, unknown>;
  maxPositionEmbeddings?: number;
  /** Number of safetensors shards; more than 1 writes `model.safetensors.index.json` + `model-0000i-of-0000n`. Default 1. */
  shards?: number;
  /** Replaces the tokenizer's chat template (`null` removes it). */
  chatTemplate?: string | null;
  /** Write the chat template to `chat_template.jinja` instead of tokenizer_config.json. Default false. */
  chatTemplateFile?: boolean;
  /** Merged into config.json last. */
  configOverrides?: Record<string, unknown>;
}

export interface TransformersModel {
  dir: string;
  /** Names of the written files, relative to dir. */
  files: string[];
  config: Record<string, unknown>;
  /** The weights exactly as stored (values already rounded to the dtype), in Hugging Face names and shapes. */
  tensors: SafetensorsTensor[];
  tokenizer: TokenizerFiles;
}

const LOGIT_STD = 3;

/** Writes a tiny random-weight transformers model folder (config, safetensors, tokenizer, generation config). */
export async function generateTransformersModel(options: TransformersModelOptions): Promise<TransformersModel> {
  const arch = options.architecture;
  const tokenizer = await loadTokenizer(options);
  const hidden = options.hiddenSize ?? 64;
  const heads = options.numHeads ?? 4;
  const kvHeads = options.numKvHeads ?? 2;
  const headDim = options.headDim ?? hidden / heads;
  const ff = options.intermediateSize ?? 128;
  const layers = options.numLayers ?? 2;
  const dtype = options.dtype ?? "F16";
  const seed = options.seed ?? 1;
  const vocab = Math.max(options.vocabSize ?? 0, tokenizerSize(tokenizer));
  const gemma = arch === "Gemma3ForCausalLM";
  const tied = gemma || (options.tieWordEmbeddings ?? (arch === "Qwen2ForCausalLM" || arch === "Qwen3ForCausalLM"));
  const config = modelConfig(options, { hidden, heads, kvHeads, headDim, ff, layers, vocab, tied, dtype, tokenizer });

  const tensors: SafetensorsTensor[] = [];
  const add = (name: string, shape: number[], draw: (random: () => number, index: number) => number) => {
    const random = unitRandom(seed, name);
    const length = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      const value = draw(random, i);
      data[i] = dtype === "F32" ? value : decodeHalf(dtype, encodeHalf(dtype, value));
    }
    tensors.push({ name, dtype, shape, data });
  };
  const normal = (std: number) => (random: () => number) => random() * std;
  // Norm weights vary around their neutral value so that a missing offset or a misplaced norm shows in the logits.
  const norm = (name: string, size = hidden) => add(name, [size], (random) => (gemma ? 0 : 1) + 0.2 * random());
  const linear = (name: string, out: number, inputs: number) => add(name, [out, inputs], normal(1 / Math.sqrt(inputs)));

  add(
    "model.embed_tokens.weight",
    [vocab, hidden],
    normal(gemma ? 1 / Math.sqrt(hidden) : tied ? LOGIT_STD / Math.sqrt(hidden) : 1),
  );
  for (let layer = 0; layer < layers; layer++) {
    const p = `model.layers.${layer}`;
    norm(`${p}.input_layernorm.weight`);
    linear(`${p}.self_attn.q_proj.weight`, heads * headDim, hidden);
    linear(`${p}.self_attn.k_proj.weight`, kvHeads * headDim, hidden);
    linear(`${p}.self_attn.v_proj.weight`, kvHeads * headDim, hidden);
    if (arch === "Qwen2ForCausalLM") {
      add(`${p}.self_attn.q_proj.bias`, [heads * headDim], normal(0.1));
      add(`${p}.self_attn.k_proj.bias`, [kvHeads * headDim], normal(0.1));
      add(`${p}.self_attn.v_proj.bias`, [kvHeads * headDim], normal(0.1));
    }
    if (arch === "Qwen3ForCausalLM" || gemma) {
      norm(`${p}.self_attn.q_norm.weight`, headDim);
      norm(`${p}.self_attn.k_norm.weight`, headDim);
    }
    linear(`${p}.self_attn.o_proj.weight`, hidden, heads * headDim);
    norm(`${p}.post_attention_layernorm.weight`);
    if (gemma) {
      norm(`${p}.pre_feedforward_layernorm.weight`);
      norm(`${p}.post_feedforward_layernorm.weight`);
    }
    linear(`${p}.mlp.gate_proj.weight`, ff, hidden);
    linear(`${p}.mlp.up_proj.weight`, ff, hidden);
    linear(`${p}.mlp.down_proj.weight`, hidden, ff);
  }
  norm("model.norm.weight");
  if (!tied) add("lm_head.weight", [vocab, hidden], normal(LOGIT_STD / Math.sqrt(hidden)));

  await mkdir(options.dir, { recursive: true });
  const files: Record<string, string | Uint8Array> = {
    "config.json": JSON.stringify(config, null, 2),
    "generation_config.json": JSON.stringify(
      {
        _from_model_config: true,
        bos_token_id: config["bos_token_id"],
        eos_token_id: config["eos_token_id"],
        transformers_version: "4.51.0",
      },
      null,
      2,
    ),
    "tokenizer.json": JSON.stringify(tokenizer.tokenizerJson),
    ...(options.tokenizerModel ? { "tokenizer.model": options.tokenizerModel } : {}),
  };
  const tokenizerConfig = { ...tokenizer.tokenizerConfig };
  const template = options.chatTemplate === undefined ? tokenizerConfig["chat_template"] : options.chatTemplate;
  delete tokenizerConfig["chat_template"];
  if (typeof template === "string" && options.chatTemplateFile) files["chat_template.jinja"] = template;
  else if (typeof template === "string") tokenizerConfig["chat_template"] = template;
  files["tokenizer_config.json"] = JSON.stringify(tokenizerConfig, null, 2);

  const shards = options.shards ?? 1;
  if (shards <= 1) {
    files["model.safetensors"] = writeSafetensors(tensors);
  } else {
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    const perShard = Math.ceil(tensors.length / shards);
    for (let shard = 0; shard < shards; shard++) {
      const name = `model-${String(shard + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
      const part = tensors.slice(shard * perShard, (shard + 1) * perShard);
      for (const tensor of part) {
        weightMap[tensor.name] = name;
        totalSize += tensor.data.length * (dtype === "F32" ? 4 : 2);
      }
      files[name] = writeSafetensors(part);
    }
    files["model.safetensors.index.json"] = JSON.stringify(
      { metadata: { total_size: totalSize }, weight_map: weightMap },
      null,
      2,
    );
  }
  for (const [name, content] of Object.entries(files)) await writeFile(join(options.dir, name), content);
  return {
    dir: options.dir,
    files: Object.keys(files).sort(),
    config,
    tensors,
    tokenizer: { tokenizerJson: tokenizer.tokenizerJson, tokenizerConfig },
  };
}

async function loadTokenizer(options: TransformersModelOptions): Promise<TokenizerFiles> {
  const choice = options.tokenizer ?? "synthetic";
  const files =
    choice === "synthetic"
      ? syntheticTokenizer()
      : typeof choice === "string"
        ? await readRealTokenizer(choice)
        : choice;
  return options.truncateVocab === undefined ? files : truncateTokenizer(files, options.truncateVocab);
}

interface Shape {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ff: number;
  layers: number;
  vocab: number;
  tied: boolean;
  dtype: SafetensorsDtype;
  tokenizer: TokenizerFiles;
}

/** config.json as transformers writes it for each class (the fields the converters read, plus the usual ones). */
function modelConfig(options: TransformersModelOptions, shape: Shape): Record<string, unknown> {
  const arch = options.architecture;
  const idOf = (key: string) => {
    const value = shape.tokenizer.tokenizerConfig[key];
    const content = typeof value === "string" ? value : (value as { content?: string } | null | undefined)?.content;
    const added = (shape.tokenizer.tokenizerJson["added_tokens"] as { id: number; content: string }[]).find(
      (token) => token.content === content,
    );
    return added?.id ?? null;
  };
  const common = {
    architectures: [arch],
    hidden_size: shape.hidden,
    intermediate_size: shape.ff,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    max_position_embeddings: options.maxPositionEmbeddings ?? 4096,
    vocab_size: shape.vocab,
    tie_word_embeddings: shape.tied,
    bos_token_id: idOf("bos_token"),
    eos_token_id: idOf("eos_token"),
    torch_dtype: { F32: "float32", F16: "float16", BF16: "bfloat16" }[shape.dtype],
    transformers_version: "4.51.0",
    initializer_range: 0.02,
    use_cache: true,
    rope_scaling: options.ropeScaling ?? null,
  };
  const specific: Record<TransformersArchitecture, Record<string, unknown>> = {
    LlamaForCausalLM: {
      model_type: "llama",
      hidden_act: "silu",
      rms_norm_eps: 1e-5,
      rope_theta: options.ropeTheta ?? 500000,
      attention_bias: false,
      mlp_bias: false,
      head_dim: shape.headDim,
      pretraining_tp: 1,
    },
    MistralForCausalLM: {
      model_type: "mistral",
      hidden_act: "silu",
      rms_norm_eps: 1e-5,
      rope_theta: options.ropeTheta ?? 1000000,
      sliding_window: null,
      head_dim: shape.headDim,
    },
    Qwen2ForCausalLM: {
      model_type: "qwen2",
      hidden_act: "silu",
      rms_norm_eps: 1e-6,
      rope_theta: options.ropeTheta ?? 1000000,
      use_sliding_window: false,
      sliding_window: 4096,
      max_window_layers: shape.layers,
    },
    Qwen3ForCausalLM: {
      model_type: "qwen3",
      hidden_act: "silu",
      rms_norm_eps: 1e-6,
      rope_theta: options.ropeTheta ?? 1000000,
      head_dim: shape.headDim,
      attention_bias: false,
      use_sliding_window: false,
      sliding_window: null,
      max_window_layers: shape.layers,
    },
    Gemma3ForCausalLM: {
      model_type: "gemma3_text",
      hidden_activation: "gelu_pytorch_tanh",
      rms_norm_eps: 1e-6,
      rope_theta: options.ropeTheta ?? 1000000,
      rope_local_base_freq: 10000,
      head_dim: shape.headDim,
      query_pre_attn_scalar: shape.headDim,
      sliding_window: 512,
      sliding_window_pattern: 6,
      final_logit_softcapping: null,
      attn_logit_softcapping: null,
      attention_bias: false,
      pad_token_id: idOf("pad_token") ?? 0,
    },
  };
  return { ...common, ...specific[arch], ...options.configOverrides };
}
