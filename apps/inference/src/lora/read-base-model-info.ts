import { readGgufFileInfo } from "node-llama-cpp";
import { InvalidBaseModelError } from "./errors.ts";

/** What the converter needs to know about the base GGUF: read from its header, no tensor data. */
export interface BaseModelInfo {
  /** `general.architecture`, e.g. "llama" or "qwen2". */
  architecture: string;
  /** `<arch>.attention.head_count`, when a single number. */
  headCount: number | undefined;
  /** `<arch>.attention.head_count_kv`, defaulting to headCount as in llama.cpp. */
  headCountKv: number | undefined;
  /** Tensor name -> dims in GGUF order (ne0 first). */
  tensors: ReadonlyMap<string, readonly number[]>;
}

// The vocabulary arrays are the bulk of a small model's header and are not needed here.
const IGNORED_KEYS = [
  "tokenizer.ggml.tokens",
  "tokenizer.ggml.scores",
  "tokenizer.ggml.token_type",
  "tokenizer.ggml.merges",
];

/** Reads the base GGUF's architecture, head counts and tensor shapes from its header. */
export async function readBaseModelInfo(path: string): Promise<BaseModelInfo> {
  let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
  try {
    info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false, ignoreKeys: IGNORED_KEYS });
  } catch {
    throw new InvalidBaseModelError("the base model is not a readable GGUF file");
  }
  const architecture = info.metadata.general?.architecture;
  if (typeof architecture !== "string") throw new InvalidBaseModelError("the base GGUF has no general.architecture");
  const archKeys = (info.metadata as unknown as Record<string, { attention?: Record<string, unknown> } | undefined>)[
    architecture
  ];
  const headCount = asCount(archKeys?.attention?.head_count);
  const tensors = new Map<string, readonly number[]>();
  for (const tensor of info.fullTensorInfo ?? info.tensorInfo ?? []) {
    tensors.set(tensor.name, tensor.dimensions.map(Number));
  }
  return { architecture, headCount, headCountKv: asCount(archKeys?.attention?.head_count_kv) ?? headCount, tensors };
}

function asCount(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}
