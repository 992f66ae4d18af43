import { readGgufFileInfo } from "node-llama-cpp";
import { checkAgainstBase, type AdapterPair } from "./check-against-base.ts";
import { IncompleteLoraPairError } from "../formats/index.ts";
import { ArchitectureMismatchError, InvalidGgufAdapterError } from "./errors.ts";
import type { BaseModelInfo } from "./read-base-model-info.ts";

export interface GgufAdapterSummary {
  architecture: string;
  /** `adapter.lora.alpha`; 0 means llama.cpp applies the user scale without alpha / rank. */
  alpha: number;
  /** Number of adapted base tensors. */
  pairs: number;
}

/**
 * Checks a ready-made GGUF LoRA adapter against the base the way llama.cpp's loader will, so a mismatch fails with
 * a clear error: llama.cpp only logs its reason and node-llama-cpp reports "Failed to initialize LoRA adapter".
 */
export async function checkGgufAdapter(path: string, base: BaseModelInfo): Promise<GgufAdapterSummary> {
  let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
  try {
    info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
  } catch {
    throw new InvalidGgufAdapterError("the adapter is not a readable GGUF file");
  }
  const metadata = info.metadata as unknown as {
    general?: { type?: unknown; architecture?: unknown };
    adapter?: { type?: unknown; lora?: { alpha?: unknown } };
  };
  if (metadata.general?.type !== "adapter") {
    throw new InvalidGgufAdapterError(
      `general.type is ${JSON.stringify(metadata.general?.type)}, not "adapter": is this a full model?`,
    );
  }
  if (metadata.adapter?.type !== "lora") {
    throw new InvalidGgufAdapterError(`adapter.type is ${JSON.stringify(metadata.adapter?.type)}, not "lora"`);
  }
  const architecture = String(metadata.general.architecture);
  if (architecture !== base.architecture) {
    throw new ArchitectureMismatchError(
      `the adapter is for architecture "${architecture}" but the base model is "${base.architecture}"`,
    );
  }

  const halves = new Map<string, { a?: readonly number[]; b?: readonly number[] }>();
  for (const tensor of info.fullTensorInfo ?? info.tensorInfo ?? []) {
    const match = /^(.+)\.lora_([ab])$/.exec(tensor.name);
    if (!match) {
      if (tensor.name.endsWith("_norm.weight")) continue; // llama.cpp skips norm weights too
      throw new InvalidGgufAdapterError(`tensor ${tensor.name} is neither a .lora_a nor a .lora_b tensor`);
    }
    const entry = halves.get(match[1]!) ?? {};
    entry[match[2] as "a" | "b"] = tensor.dimensions.map(Number);
    halves.set(match[1]!, entry);
  }
  const incomplete = [...halves].filter(([, { a, b }]) => !a || !b).map(([name]) => name);
  if (incomplete.length > 0) throw new IncompleteLoraPairError(incomplete);
  const pairs: AdapterPair[] = [...halves].map(([tensor, { a, b }]) => ({ tensor, a: a!, b: b! }));
  checkAgainstBase(pairs, base);

  const alpha = metadata.adapter.lora?.alpha;
  return { architecture, alpha: typeof alpha === "number" ? alpha : 0, pairs: pairs.length };
}
