import { readGgufFileInfo } from "node-llama-cpp";
import { SafeError } from "@slm/config";

/** The model file is not one llama.cpp can load; the message names what is wrong with it. */
export class InvalidModelError extends SafeError {
  override readonly name = "InvalidModelError";
  readonly code = "invalid_model";
}

export interface ModelMetadata {
  architecture: string;
  name: string | undefined;
  license: string | undefined;
  chatTemplate: string | undefined;
  trainContextSize: number;
  /** `<arch>.pooling_type`: 0 none, 1 mean, 2 cls, 3 last, 4 rank; set by converters for embedding models. */
  poolingType: number | undefined;
}

/** An embedding model declares how token vectors pool into one (mean, cls or last token). */
export function declaresEmbeddings(metadata: Pick<ModelMetadata, "poolingType">): boolean {
  return metadata.poolingType === 1 || metadata.poolingType === 2 || metadata.poolingType === 3;
}

/**
 * Keys llama.cpp reads without a fallback for these architectures. A file missing one does not fail cleanly in
 * llama.cpp: the whole process aborts. So they are checked here, before loading.
 */
const REQUIRED_BY_ARCHITECTURE: Record<string, readonly string[]> = {
  llama: ["feed_forward_length", "attention.layer_norm_rms_epsilon"],
  qwen2: ["feed_forward_length", "attention.layer_norm_rms_epsilon"],
  qwen3: ["feed_forward_length", "attention.layer_norm_rms_epsilon"],
  gemma: ["feed_forward_length", "attention.layer_norm_rms_epsilon"],
  gemma2: ["feed_forward_length", "attention.layer_norm_rms_epsilon"],
  gemma3: ["feed_forward_length", "attention.layer_norm_rms_epsilon"],
  phi3: ["feed_forward_length", "attention.layer_norm_rms_epsilon"],
};
const REQUIRED_FOR_ALL = ["context_length", "embedding_length", "block_count", "attention.head_count"];

/** Reads the GGUF header (not the tensors) and refuses a file llama.cpp would crash on. */
export async function inspectGguf(path: string): Promise<ModelMetadata> {
  let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
  try {
    info = await readGgufFileInfo(path, { readTensorInfo: false, logWarnings: false });
  } catch {
    throw new InvalidModelError("the file is not a readable GGUF model");
  }
  const flat = info.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
  const architecture = info.metadata.general?.architecture;
  if (typeof architecture !== "string") throw new InvalidModelError("GGUF metadata has no general.architecture");
  const archKeys = flat[architecture] ?? {};
  const required = [...REQUIRED_FOR_ALL, ...(REQUIRED_BY_ARCHITECTURE[architecture] ?? [])];
  const missing = required.filter((key) => getPath(archKeys, key) === undefined).map((k) => `${architecture}.${k}`);
  const tokenizer = info.metadata.tokenizer?.ggml as Record<string, unknown> | undefined;
  if (tokenizer?.model === undefined) missing.push("tokenizer.ggml.model");
  if (!Array.isArray(tokenizer?.tokens)) missing.push("tokenizer.ggml.tokens");
  if (missing.length > 0) {
    throw new InvalidModelError(`GGUF metadata lacks keys llama.cpp requires: ${missing.join(", ")}`);
  }
  return {
    architecture,
    name: info.metadata.general?.name,
    license: info.metadata.general?.license,
    chatTemplate: info.metadata.tokenizer?.chat_template,
    trainContextSize: Number(getPath(archKeys, "context_length")),
    poolingType: typeof archKeys.pooling_type === "number" ? archKeys.pooling_type : undefined,
  };
}

/** node-llama-cpp nests dotted keys (`attention.head_count` -> attention: { head_count }). */
function getPath(object: Record<string, unknown>, dotted: string): unknown {
  let node: unknown = object;
  for (const part of dotted.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
