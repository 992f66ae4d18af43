// Test support: random-weight models that carry a REAL vocabulary (read from a vocab-only GGUF such as llama.cpp's
// models/ggml-vocab-*.gguf) in the tensor layout of a real architecture, so tokenization, special tokens and chat
// templates behave exactly as they do for the released model family.
import { FILE_TYPE, scaled, seededTensor, type ValueFn } from "./seeded-tensor.ts";
import { writeGguf, type GgmlType, type GgufMetadata, type GgufMetadataValue, type GgufTensor } from "./writer.ts";

/** Layouts as llama.cpp loads them (src/models/<arch>.cpp of the bundled source). */
export type VocabModelArchitecture = "llama" | "qwen2" | "qwen3" | "phi3" | "gemma3";

export interface VocabModelOptions {
  /** The `tokenizer.*` entries of a real vocabulary (see `readTokenizerMetadata`). */
  tokenizer: GgufMetadata;
  architecture: VocabModelArchitecture;
  /** Written as `tokenizer.chat_template`, replacing the vocabulary's; `null` writes none. Default: the vocabulary's. */
  chatTemplate?: string | null;
  /** Storage type of the weight matrices (norms and biases stay F32). Default "f16". */
  tensorType?: GgmlType;
  seed?: number;
  nLayer?: number;
  nEmbd?: number;
  nHead?: number;
  nHeadKv?: number;
  nFf?: number;
  contextLength?: number;
  name?: string;
  /**
   * Tokens whose output row gets `scale` times the usual logit scale, so greedy decoding picks them now and then
   * (e.g. an end-of-turn token mid-answer; 2 is about once in 20 tokens). Other non-normal tokens (control,
   * user-defined, byte, unused) never win.
   */
  favour?: ReadonlyArray<{ token: number; scale: number }>;
  /**
   * No `output.weight`: the output layer reuses `token_embd.weight` (filled like the output layer then), as in
   * Qwen2.5 up to 3B, Gemma and Llama 3.2. Default false.
   */
  tiedEmbeddings?: boolean;
  /**
   * Zero attention output weights: every token's logits then depend on that token alone, so greedy decoding follows a
   * fixed chain (each token decides the next) and a prompt that already holds the chain is continued by copying it,
   * as answers that copy their prompt do (prompt-lookup decoding tests and benches). The compute per token is the
   * same as with attention. Default false.
   */
  attentionOff?: boolean;
}

const TOKEN_TYPE_NORMAL = 1;
const LOGIT_STD = 3;

/** The GGUF bytes of a small random-weight model with the given real vocabulary. */
export function generateVocabModel(options: VocabModelOptions): Uint8Array {
  const arch = options.architecture;
  const nEmbd = options.nEmbd ?? 64;
  const nHead = options.nHead ?? 4;
  const nHeadKv = options.nHeadKv ?? 2;
  const nFf = options.nFf ?? 128;
  const nLayer = options.nLayer ?? 2;
  const type = options.tensorType ?? "f16";
  const seed = options.seed ?? 1;
  const headDim = nEmbd / nHead;
  const nEmbdKv = headDim * nHeadKv;
  const tokens = options.tokenizer["tokenizer.ggml.tokens"];
  const tokenTypes = options.tokenizer["tokenizer.ggml.token_type"];
  if (tokens?.type !== "string[]") throw new Error("the tokenizer metadata has no tokenizer.ggml.tokens");
  const nVocab = tokens.value.length;
  const typeOf = (id: number) =>
    tokenTypes && "length" in (tokenTypes.value as object)
      ? Number((tokenTypes.value as ArrayLike<number>)[id])
      : TOKEN_TYPE_NORMAL;

  const u32 = (value: number) => ({ type: "uint32", value }) as const;
  const f32 = (value: number) => ({ type: "float32", value }) as const;
  const { ["tokenizer.chat_template"]: ownTemplate, ...tokenizer } = options.tokenizer;
  const template =
    options.chatTemplate === undefined
      ? ownTemplate
      : options.chatTemplate === null
        ? undefined
        : { type: "string" as const, value: options.chatTemplate };
  const metadata: Record<string, GgufMetadataValue> = {
    "general.architecture": { type: "string", value: arch },
    "general.name": { type: "string", value: options.name ?? `${arch}-vocab-test` },
    "general.file_type": u32(FILE_TYPE[type]),
    [`${arch}.context_length`]: u32(options.contextLength ?? 4096),
    [`${arch}.embedding_length`]: u32(nEmbd),
    [`${arch}.block_count`]: u32(nLayer),
    [`${arch}.feed_forward_length`]: u32(nFf),
    [`${arch}.rope.dimension_count`]: u32(headDim),
    [`${arch}.attention.head_count`]: u32(nHead),
    [`${arch}.attention.head_count_kv`]: u32(nHeadKv),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(1e-6),
    [`${arch}.rope.freq_base`]: f32(10000),
    ...(arch === "gemma3"
      ? { [`${arch}.attention.key_length`]: u32(headDim), [`${arch}.attention.value_length`]: u32(headDim) }
      : {}),
    ...tokenizer,
    ...(template ? { "tokenizer.chat_template": template } : {}),
  };

  const norm = (name: string, size = nEmbd) => seededTensor(name, [size], "f32", seed, () => 1);
  const bias = (name: string, size: number) => seededTensor(name, [size], "f32", seed, scaled(0.1));
  const weights = (name: string, nIn: number, nOut: number) =>
    seededTensor(name, [nIn, nOut], type, seed, scaled(1 / Math.sqrt(nIn)));
  const tensors: GgufTensor[] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    const blk = `blk.${layer}`;
    tensors.push(norm(`${blk}.attn_norm.weight`));
    if (arch === "phi3") {
      tensors.push(weights(`${blk}.attn_qkv.weight`, nEmbd, nEmbd + 2 * nEmbdKv));
    } else {
      tensors.push(
        weights(`${blk}.attn_q.weight`, nEmbd, nEmbd),
        weights(`${blk}.attn_k.weight`, nEmbd, nEmbdKv),
        weights(`${blk}.attn_v.weight`, nEmbd, nEmbdKv),
      );
    }
    if (arch === "qwen2")
      tensors.push(
        bias(`${blk}.attn_q.bias`, nEmbd),
        bias(`${blk}.attn_k.bias`, nEmbdKv),
        bias(`${blk}.attn_v.bias`, nEmbdKv),
      );
    if (arch === "qwen3" || arch === "gemma3")
      tensors.push(norm(`${blk}.attn_q_norm.weight`, headDim), norm(`${blk}.attn_k_norm.weight`, headDim));
    tensors.push(
      options.attentionOff
        ? seededTensor(`${blk}.attn_output.weight`, [nEmbd, nEmbd], type, seed, () => 0)
        : weights(`${blk}.attn_output.weight`, nEmbd, nEmbd),
    );
    if (arch === "gemma3") tensors.push(norm(`${blk}.post_attention_norm.weight`));
    tensors.push(norm(`${blk}.ffn_norm.weight`));
    if (arch === "phi3") {
      tensors.push(weights(`${blk}.ffn_up.weight`, nEmbd, 2 * nFf));
    } else {
      tensors.push(weights(`${blk}.ffn_gate.weight`, nEmbd, nFf), weights(`${blk}.ffn_up.weight`, nEmbd, nFf));
    }
    tensors.push(weights(`${blk}.ffn_down.weight`, nFf, nEmbd));
    if (arch === "gemma3") tensors.push(norm(`${blk}.post_ffw_norm.weight`));
  }

  // Rows of non-normal tokens are zero (their logit is always 0, far below the best normal token's), so greedy
  // answers are text of the vocabulary's ordinary tokens, except for favoured tokens.
  const favoured = new Map((options.favour ?? []).map((f) => [f.token, f.scale]));
  const logitScale = LOGIT_STD / Math.sqrt(nEmbd);
  const outputValue: ValueFn = (index, random) => {
    const id = Math.floor(index / nEmbd);
    const draw = random();
    const favour = favoured.get(id);
    if (favour !== undefined) return draw * logitScale * favour;
    return typeOf(id) === TOKEN_TYPE_NORMAL ? draw * logitScale : 0;
  };
  const embeddings = options.tiedEmbeddings
    ? seededTensor("token_embd.weight", [nEmbd, nVocab], type, seed, outputValue)
    : seededTensor(
        "token_embd.weight",
        [nEmbd, nVocab],
        type,
        seed,
        scaled(arch === "gemma3" ? 1 / Math.sqrt(nEmbd) : 1),
      );
  tensors.unshift(embeddings);
  tensors.push(norm("output_norm.weight"));
  if (!options.tiedEmbeddings) tensors.push(seededTensor("output.weight", [nEmbd, nVocab], type, seed, outputValue));
  return writeGguf({ metadata, tensors });
}
