import { createHash } from "node:crypto";
import { cachedConversion, sha256File, type CachedConversionResult } from "../formats/index.ts";
import {
  prepareTransformersConversion,
  TRANSFORMERS_CONVERTER_VERSION,
  type TransformersOutType,
} from "./convert-transformers.ts";
import { MissingModelFileError } from "./errors.ts";

export interface ConvertTransformersCachedOptions {
  /** Where converted models are kept (beside the converted adapters; created if missing). */
  cacheDir: string;
  /** Repository-relative file name → local path. */
  files: Readonly<Record<string, string>>;
  /** Hex sha256 of the files when already known (verified by the supply chain); computed otherwise. */
  sha256?: Readonly<Record<string, string>>;
  outType: TransformersOutType;
  /** LORA_MERGE: the adapter folded into the weights. */
  merge?: {
    adapterConfigPath: string;
    safetensorsPath: string;
    sha256?: { adapterConfig?: string; safetensors?: string };
  };
  /** `general.name` of the converted file (e.g. the repository id); part of the cache key. */
  name?: string;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Converts a transformers model to GGUF once: keyed by the sha256 of every source file (and of the merged adapter),
 * the converter version and the output type, written atomically with its sha256 beside it and reused at restart
 * (`converted: false`) — the same cache discipline as the converted LoRA adapters (formats/cached-conversion.ts).
 */
export async function convertTransformersCached(
  options: ConvertTransformersCachedOptions,
): Promise<CachedConversionResult> {
  const digest = (name: string, path: string, known?: string) =>
    known ??
    sha256File(path).catch(() => {
      throw new MissingModelFileError(name);
    });
  const names = Object.keys(options.files).sort();
  const sources = await Promise.all(
    names.map(async (name) => [name, await digest(name, options.files[name]!, options.sha256?.[name])] as const),
  );
  const merge = options.merge;
  const adapter = merge
    ? {
        config: await digest("adapter_config.json", merge.adapterConfigPath, merge.sha256?.adapterConfig),
        safetensors: await digest("adapter_model.safetensors", merge.safetensorsPath, merge.sha256?.safetensors),
      }
    : null;
  const key = createHash("sha256")
    .update(
      JSON.stringify({
        converter: `transformers/${TRANSFORMERS_CONVERTER_VERSION}`,
        outType: options.outType,
        sources,
        adapter,
        ...(options.name === undefined ? {} : { name: options.name }),
      }),
    )
    .digest("hex");
  return cachedConversion({
    cacheDir: options.cacheDir,
    key,
    produce: async () => {
      const prepared = await prepareTransformersConversion({
        files: options.files,
        outType: options.outType,
        ...(merge ? { merge } : {}),
        ...(options.name === undefined ? {} : { name: options.name }),
      });
      return (temporary) => prepared.write(temporary, options.onProgress);
    },
  });
}
