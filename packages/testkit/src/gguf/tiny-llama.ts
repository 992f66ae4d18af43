import { permuteForLlamaRope } from "./llama-rope-permute.ts";
import { FILE_TYPE, scaled, seededTensor as tensor, type ValueFn } from "./seeded-tensor.ts";
import { BOS_TOKEN_ID, buildLlamaVocab, EOS_TOKEN_ID, TokenType, UNK_TOKEN_ID, type LlamaVocab } from "./vocab.ts";
import { writeGguf, type GgmlType, type GgufMetadata, type GgufTensor } from "./writer.ts";

export interface TinyLlamaOptions {
  /** PRNG seed (uint32) for the weights; the same options give a byte-identical file. Default 1. */
  seed?: number;
  /** Number of transformer blocks. Default 2. */
  nLayer?: number;
  /** Hidden size; must be divisible by nHead, giving an even head size. Default 64. */
  nEmbd?: number;
  /** Attention heads. Default 4. */
  nHead?: number;
  /** Key/value heads (grouped-query attention); must divide nHead. Default nHead. */
  nHeadKv?: number;
  /** Feed-forward hidden size. Default 128. */
  nFf?: number;
  /** Training context length (`llama.context_length`). Default 512. */
  contextLength?: number;
  /** Jinja chat template, written as `tokenizer.chat_template`. */
  chatTemplate?: string;
  /** `general.name`. Default "tiny-llama". */
  name?: string;
  /** `general.license`. */
  license?: string;
  /** Storage type of the weight matrices; norm weights are always F32, as in converted models. Default "f32". */
  tensorType?: GgmlType;
  /** Appended to the vocabulary as CONTROL tokens, e.g. ChatML's `<|im_start|>` and `<|im_end|>`. */
  extraTokens?: readonly string[];
  /**
   * `general.architecture` and the metadata key prefix. "qwen2" is the same bias-free decoder in llama.cpp but
   * with NEOX RoPE, which is why llama.cpp's converter never reorders its q/k rows. Default "llama".
   */
  architecture?: "llama" | "qwen2";
  /**
   * Treat the drawn q/k weights as Hugging Face row order and store them reordered the way llama.cpp's converter
   * does for llama's RoPE (no effect for qwen2). Default false: weights are stored as drawn.
   */
  rotaryReorder?: boolean;
  /**
   * Called with each 2-D weight (token_embd, attention, MLP, output) as F32 in Hugging Face layout, `[rows][columns]`
   * = `[out][in]` row-major (`[vocab][hidden]` for the embeddings), before any rotary reorder; may change it in place,
   * e.g. to merge a LoRA delta. Names are the GGUF ones (`blk.0.attn_q.weight`).
   */
  editWeights?: (name: string, weights: Float32Array, rows: number, columns: number) => void;
}

type ResolvedOptions = Required<Omit<TinyLlamaOptions, "chatTemplate" | "license" | "editWeights">> &
  Pick<TinyLlamaOptions, "chatTemplate" | "license" | "editWeights">;

/**
 * Options for a ~60M-parameter F16 model (~120 MB) for benchmarks, e.g.
 * `generateTinyLlama({ ...BENCHMARK_LLAMA_OPTIONS, seed: 7 })`.
 */
export const BENCHMARK_LLAMA_OPTIONS: Readonly<TinyLlamaOptions> = Object.freeze({
  name: "bench-llama",
  nLayer: 12,
  nEmbd: 640,
  nHead: 10,
  nFf: 1728,
  tensorType: "f16",
});

const RMS_NORM_EPS = 1e-5;
const ROPE_FREQ_BASE = 10000;

// Weight scales. Projections use std 1/sqrt(fan_in) so every block's
// contribution to the residual stream is about as large as the token embedding
// itself and the prediction depends on the context, not only the last token.
const EMBEDDING_STD = 1;
// Target std of the logits: wide enough for a spread, non-degenerate distribution.
const LOGIT_STD = 3;

/** Generates the GGUF bytes of a tiny llama-architecture model with seeded random weights. */
export function generateTinyLlama(options: TinyLlamaOptions = {}): Uint8Array {
  const resolved = resolveOptions(options);
  const vocab = buildLlamaVocab(resolved.extraTokens);
  return writeGguf({ metadata: llamaMetadata(resolved, vocab), tensors: llamaTensors(resolved, vocab) });
}

/** The metadata `generateTinyLlama` writes for these options (without `general.alignment`). */
export function tinyLlamaMetadata(options: TinyLlamaOptions = {}): GgufMetadata {
  const resolved = resolveOptions(options);
  return llamaMetadata(resolved, buildLlamaVocab(resolved.extraTokens));
}

/** Total number of weights in the model `generateTinyLlama` would produce. */
export function tinyLlamaParameterCount(options: TinyLlamaOptions = {}): number {
  const resolved = resolveOptions(options);
  let count = 0;
  for (const { dims } of llamaTensors(resolved, buildLlamaVocab(resolved.extraTokens))) {
    count += dims.reduce((product, dim) => product * dim, 1);
  }
  return count;
}

function resolveOptions(options: TinyLlamaOptions): ResolvedOptions {
  const nHead = options.nHead ?? 4;
  const resolved: ResolvedOptions = {
    seed: options.seed ?? 1,
    nLayer: options.nLayer ?? 2,
    nEmbd: options.nEmbd ?? 64,
    nHead,
    nHeadKv: options.nHeadKv ?? nHead,
    nFf: options.nFf ?? 128,
    contextLength: options.contextLength ?? 512,
    chatTemplate: options.chatTemplate,
    name: options.name ?? "tiny-llama",
    license: options.license,
    tensorType: options.tensorType ?? "f32",
    extraTokens: options.extraTokens ?? [],
    architecture: options.architecture ?? "llama",
    rotaryReorder: options.rotaryReorder ?? false,
    editWeights: options.editWeights,
  };
  if (!Number.isInteger(resolved.seed) || resolved.seed < 0 || resolved.seed > 0xffffffff) {
    throw new RangeError(`seed must be a uint32, got ${resolved.seed}`);
  }
  for (const key of ["nLayer", "nEmbd", "nHead", "nHeadKv", "nFf", "contextLength"] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) {
      throw new RangeError(`${key} must be a positive integer, got ${resolved[key]}`);
    }
  }
  // Checked up front because llama.cpp rejects these only deep inside model loading.
  if (resolved.nEmbd % resolved.nHead !== 0 || (resolved.nEmbd / resolved.nHead) % 2 !== 0) {
    throw new RangeError("nEmbd must be divisible by nHead with an even head size (RoPE rotates pairs)");
  }
  if (resolved.nHead % resolved.nHeadKv !== 0) {
    throw new RangeError("nHeadKv must divide nHead");
  }
  return resolved;
}

function llamaMetadata(model: ResolvedOptions, vocab: LlamaVocab): GgufMetadata {
  const u32 = (value: number) => ({ type: "uint32", value }) as const;
  const headDim = model.nEmbd / model.nHead;
  const arch = model.architecture;
  return {
    "general.architecture": { type: "string", value: arch },
    "general.name": { type: "string", value: model.name },
    ...(model.license === undefined ? {} : { "general.license": { type: "string", value: model.license } }),
    "general.file_type": u32(FILE_TYPE[model.tensorType]),
    [`${arch}.context_length`]: u32(model.contextLength),
    [`${arch}.embedding_length`]: u32(model.nEmbd),
    [`${arch}.block_count`]: u32(model.nLayer),
    [`${arch}.feed_forward_length`]: u32(model.nFf),
    // llama.cpp insists that RoPE covers the full head (llama: "invalid n_rot", qwen2: an assert).
    [`${arch}.rope.dimension_count`]: u32(headDim),
    [`${arch}.attention.head_count`]: u32(model.nHead),
    [`${arch}.attention.head_count_kv`]: u32(model.nHeadKv),
    [`${arch}.attention.layer_norm_rms_epsilon`]: { type: "float32", value: RMS_NORM_EPS },
    [`${arch}.rope.freq_base`]: { type: "float32", value: ROPE_FREQ_BASE },
    [`${arch}.vocab_size`]: u32(vocab.tokens.length),
    "tokenizer.ggml.model": { type: "string", value: "llama" },
    "tokenizer.ggml.tokens": { type: "string[]", value: vocab.tokens },
    "tokenizer.ggml.scores": { type: "float32[]", value: vocab.scores },
    "tokenizer.ggml.token_type": { type: "int32[]", value: vocab.tokenTypes },
    "tokenizer.ggml.bos_token_id": u32(BOS_TOKEN_ID),
    "tokenizer.ggml.eos_token_id": u32(EOS_TOKEN_ID),
    "tokenizer.ggml.unknown_token_id": u32(UNK_TOKEN_ID),
    "tokenizer.ggml.add_bos_token": { type: "bool", value: true },
    "tokenizer.ggml.add_eos_token": { type: "bool", value: false },
    ...(model.chatTemplate === undefined
      ? {}
      : { "tokenizer.chat_template": { type: "string", value: model.chatTemplate } }),
  };
}

/**
 * The tensors llama.cpp's llama loader requires, in ggml dim order
 * ({input, output} for a weight matrix, {n_embd, n_vocab} for embeddings).
 */
function llamaTensors(model: ResolvedOptions, vocab: LlamaVocab): GgufTensor[] {
  const { nEmbd, nFf, tensorType: type, seed } = model;
  const nVocab = vocab.tokens.length;
  const nEmbdKv = (nEmbd / model.nHead) * model.nHeadKv;
  const norm = (name: string) => tensor(name, [nEmbd], "f32", seed, () => 1);
  // A 2-D weight: stored as [nIn, nOut] in ggml order, which is the [out][in] row-major layout of Hugging Face.
  const matrix = (name: string, nIn: number, nOut: number, value: ValueFn, ropeHeads?: number) => {
    const reorder = ropeHeads !== undefined && model.rotaryReorder && model.architecture === "llama";
    const { editWeights } = model;
    const edit =
      editWeights || reorder
        ? (values: Float32Array) => {
            editWeights?.(name, values, nOut, nIn);
            return reorder ? permuteForLlamaRope(values, nOut, nIn, ropeHeads) : values;
          }
        : undefined;
    return tensor(name, [nIn, nOut], type, seed, value, edit);
  };
  const weights = (name: string, nIn: number, nOut: number, ropeHeads?: number) =>
    matrix(name, nIn, nOut, scaled(1 / Math.sqrt(nIn)), ropeHeads);

  const tensors = [matrix("token_embd.weight", nEmbd, nVocab, scaled(EMBEDDING_STD))];
  for (let layer = 0; layer < model.nLayer; layer++) {
    const blk = `blk.${layer}`;
    tensors.push(
      norm(`${blk}.attn_norm.weight`),
      weights(`${blk}.attn_q.weight`, nEmbd, nEmbd, model.nHead),
      weights(`${blk}.attn_k.weight`, nEmbd, nEmbdKv, model.nHeadKv),
      weights(`${blk}.attn_v.weight`, nEmbd, nEmbdKv),
      weights(`${blk}.attn_output.weight`, nEmbd, nEmbd),
      norm(`${blk}.ffn_norm.weight`),
      weights(`${blk}.ffn_gate.weight`, nEmbd, nFf),
      weights(`${blk}.ffn_up.weight`, nEmbd, nFf),
      weights(`${blk}.ffn_down.weight`, nFf, nEmbd),
    );
  }

  // Output rows of non-normal tokens (unk, bos/eos, byte fallback, extra control
  // tokens) stay zero: their logit is always 0 while the best normal token's is
  // several LOGIT_STD above, so greedy generation emits printable text and never
  // stops early on EOS.
  const logitScale = LOGIT_STD / Math.sqrt(nEmbd);
  const outputValue: ValueFn = (index, random) =>
    vocab.tokenTypes[Math.floor(index / nEmbd)] === TokenType.normal ? random() * logitScale : 0;
  tensors.push(norm("output_norm.weight"), matrix("output.weight", nEmbd, nVocab, outputValue));
  return tensors;
}
