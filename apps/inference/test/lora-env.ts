/** Inference env for the LoRA serving tests: a fresh cache per suite, no lockfile, one thread, one slot. */
export function servingEnv(hubUrl: string, cacheDir: string): Record<string, string> {
  return {
    HF_ENDPOINT: hubUrl,
    MODEL_CACHE_DIR: cacheDir,
    MODEL_LOCKFILE: "none",
    CONTEXT_SIZE: "256",
    LLAMA_THREADS: "1",
    PARALLEL: "1",
  };
}

/** MODEL_TYPE=lora over `servingEnv`: base GGUF repo + adapter repo. */
export function loraEnv(
  common: Record<string, string>,
  artifacts: { baseRepo: string; baseFile: string; adapterRepo: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...common,
    MODEL_TYPE: "lora",
    BASE_MODEL: artifacts.baseRepo,
    BASE_MODEL_FILE: artifacts.baseFile,
    LORA_ID: artifacts.adapterRepo,
    ...extra,
  };
}
