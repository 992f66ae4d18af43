/** What a tensor of a PEFT adapter file is, by its key. */
export interface PeftKey {
  /** The adapted module's path in the transformers model, e.g. `model.layers.0.self_attn.q_proj`. */
  module: string;
  role: "lora_A" | "lora_B" | "lora_embedding_A" | "lora_embedding_B" | "dora_magnitude" | "bias" | "other";
}

// PEFT saves `base_model.model.<module>.<role>`, without the adapter name ("default") that lives in the model.
const PREFIX = "base_model.model.";
const ROLES: readonly [RegExp, PeftKey["role"]][] = [
  [/^(.+)\.lora_A\.weight$/, "lora_A"],
  [/^(.+)\.lora_B\.weight$/, "lora_B"],
  [/^(.+)\.lora_embedding_A$/, "lora_embedding_A"],
  [/^(.+)\.lora_embedding_B$/, "lora_embedding_B"],
  [/^(.+)\.lora_magnitude_vector(?:\.weight)?$/, "dora_magnitude"],
  // lora_bias=true saves lora_B.bias; bias="all"/"lora_only" saves the base layer's own bias.
  [/^(.+?)(?:\.lora_B)?\.bias$/, "bias"],
];

/** Splits an adapter tensor key into the module path and the tensor's role. */
export function parsePeftKey(key: string): PeftKey {
  const path = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
  for (const [pattern, role] of ROLES) {
    const match = pattern.exec(path);
    if (match) return { module: match[1]!, role };
  }
  return { module: path.replace(/\.weight$/, ""), role: "other" };
}
