import { readFile } from "node:fs/promises";
import { parseAdapterConfig } from "../formats/index.ts";
import { matchesBase } from "./check-adapter-compatibility.ts";
import { checkGgufAdapter } from "./check-gguf-adapter.ts";
import { convertCached } from "./convert-cached.ts";
import { BaseModelMismatchError } from "./errors.ts";
import { readBaseModelInfo } from "./read-base-model-info.ts";

/**
 * Converted adapters live in `<hub cache>/../<this>/<key>.gguf`: beside the Hub cache, not in it, because the Python
 * client's cache scan reports any folder there other than `models--*` and `.locks` as corrupted.
 */
export const LORA_CACHE_FOLDER = "slm-converted-lora";

/** A verified file from the supply chain. */
interface VerifiedFile {
  path: string;
  sha256: string;
}

export interface PrepareAdapterOptions {
  base: VerifiedFile;
  /** BASE_MODEL, compared with the adapter's declared base unless `baseMatch` is false. */
  baseModel: string;
  baseMatch: boolean;
  /** A GGUF adapter, or a PEFT pair to convert. */
  adapter: { gguf: VerifiedFile } | { config: VerifiedFile; weights: VerifiedFile };
  /** Where converted adapters are cached. */
  cacheDir: string;
}

export interface PreparedAdapter {
  /** The GGUF adapter llama.cpp loads. */
  filePath: string;
  /** What the adapter declares as its base, if anything. */
  declaredBase: string | undefined;
  /** For a PEFT adapter: whether it was converted now (false: reused from the cache). */
  converted: boolean | undefined;
}

/**
 * Turns the adapter artifacts into a GGUF adapter llama.cpp will accept on this base: a PEFT adapter's declared
 * base is checked against BASE_MODEL, then converted (once, cached by the sources' sha256); a GGUF adapter is
 * checked against the base's tensors. Errors are LoraError classes with safe one-line messages.
 */
export async function prepareAdapter(options: PrepareAdapterOptions): Promise<PreparedAdapter> {
  const { adapter, base } = options;
  if ("gguf" in adapter) {
    await checkGgufAdapter(adapter.gguf.path, await readBaseModelInfo(base.path));
    return { filePath: adapter.gguf.path, declaredBase: undefined, converted: undefined };
  }
  const config = parseAdapterConfig(await readFile(adapter.config.path));
  const declared = config.baseModelNameOrPath;
  if (options.baseMatch && declared !== undefined && !matchesBase(declared, options.baseModel)) {
    throw new BaseModelMismatchError(declared, options.baseModel);
  }
  const result = await convertCached({
    cacheDir: options.cacheDir,
    adapterConfigPath: adapter.config.path,
    safetensorsPath: adapter.weights.path,
    basePath: base.path,
    sha256: { adapterConfig: adapter.config.sha256, safetensors: adapter.weights.sha256, base: base.sha256 },
  });
  return { filePath: result.path, declaredBase: declared, converted: result.converted };
}
