/** Where a PEFT module's LoRA goes in a llama.cpp model. */
export interface GgufTarget {
  /** The base tensor, e.g. `blk.0.attn_q.weight`. */
  tensor: string;
  /** q and k rows are reordered for RoPE on llama-architecture bases (head counts from the base metadata). */
  rotary: "q" | "k" | undefined;
  /** Embedding LoRA is applied through a row lookup: its A is stored transposed. */
  embedding: boolean;
}

// transformers module names shared by Llama, Mistral and Qwen2 (llama.cpp's tensor names on the right).
const LAYER_MODULES: Readonly<Record<string, string>> = {
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
};
const LAYER_PATTERN = /^model\.layers\.(\d+)\.(.+)$/;

/** Maps a transformers module path (llama, mistral, qwen2) to its GGUF tensor; undefined if it has none. */
export function mapModuleName(module: string): GgufTarget | undefined {
  if (module === "model.embed_tokens") return { tensor: "token_embd.weight", rotary: undefined, embedding: true };
  if (module === "lm_head") return { tensor: "output.weight", rotary: undefined, embedding: false };
  const match = LAYER_PATTERN.exec(module);
  const name = match && Object.hasOwn(LAYER_MODULES, match[2]!) ? LAYER_MODULES[match[2]!] : undefined;
  if (!match || name === undefined) return undefined;
  const rotary = name === "attn_q" ? "q" : name === "attn_k" ? "k" : undefined;
  return { tensor: `blk.${Number(match[1])}.${name}.weight`, rotary, embedding: false };
}
