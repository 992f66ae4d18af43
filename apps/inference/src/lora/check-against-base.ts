import { ShapeMismatchError } from "../formats/index.ts";
import { FusedQkvBaseError, TiedEmbeddingLoraError } from "./errors.ts";
import type { BaseModelInfo } from "./read-base-model-info.ts";

/** One LoRA pair as llama.cpp will see it: the base tensor it adapts and the GGUF dims (ne0 first) of A and B. */
export interface AdapterPair {
  tensor: string;
  a: readonly number[];
  b: readonly number[];
}

/**
 * The checks llama.cpp's adapter loader makes, done first so a bad adapter fails with a clear error instead of
 * llama.cpp's generic load failure, plus the cases llama.cpp accepts and then breaks on (fused qkv, tied output).
 */
export function checkAgainstBase(pairs: readonly AdapterPair[], base: BaseModelInfo): void {
  const mismatches: string[] = [];
  for (const { tensor, a, b } of pairs) {
    const fused = tensor.replace(/\.attn_[qkv]\.weight$/, ".attn_qkv.weight");
    if (fused !== tensor && base.tensors.has(fused)) throw new FusedQkvBaseError(fused);
    if (tensor === "token_embd.weight" && !base.tensors.has("output.weight")) throw new TiedEmbeddingLoraError();

    const dims = base.tensors.get(tensor);
    if (dims === undefined) {
      const hint = tensor === "output.weight" ? " (the base ties lm_head to the embeddings)" : "";
      mismatches.push(`${tensor} is not in the base model${hint}`);
      continue;
    }
    if (dims.length !== 2 || a.length !== 2 || b.length !== 2) {
      mismatches.push(`${tensor}: expected 2-D tensors`);
      continue;
    }
    // Embedding LoRA is applied as B · A[token] (llama.cpp's build_inp_embd), so A and B swap roles.
    const ok =
      tensor === "token_embd.weight"
        ? dims[0] === b[1] && dims[1] === a[1] && a[0] === b[0]
        : dims[0] === a[0] && dims[1] === b[1] && a[1] === b[0];
    if (!ok)
      mismatches.push(`${tensor}: base [${dims.join(", ")}], lora_a [${a.join(", ")}], lora_b [${b.join(", ")}]`);
  }
  if (mismatches.length > 0) {
    const shown =
      mismatches.slice(0, 3).join("; ") + (mismatches.length > 3 ? `; and ${mismatches.length - 3} more` : "");
    throw new ShapeMismatchError(`the adapter does not fit the base model (trained on a different model?): ${shown}`);
  }
}
