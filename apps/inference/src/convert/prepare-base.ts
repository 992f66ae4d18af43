import { readFile } from "node:fs/promises";
import { convertTransformersCached } from "./convert-transformers-cached.ts";

/**
 * Converted transformers bases live in `<hub cache>/../<this>/<key>.gguf`, beside the converted adapters
 * (LORA_CACHE_FOLDER) and for the same reason: outside the Hub cache, whose Python scan reports foreign folders.
 */
export const BASE_CACHE_FOLDER = "slm-converted-base";

/** A verified file from the supply chain. */
interface VerifiedFile {
  path: string;
  sha256: string;
}

/** What is read here of the hub's ResolvedTransformersBase: the repo and its verified files by repo-relative name. */
export interface VerifiedTransformersBase {
  listing: { repo: string };
  files: readonly (VerifiedFile & { file: string })[];
}

export interface PrepareBaseOptions {
  base: VerifiedTransformersBase;
  /** Where converted bases are cached (created if missing). */
  cacheDir: string;
  /** BASE_MODEL_QUANT */
  quant: "q8_0" | "f16";
  /** LORA_MERGE=1: the PEFT adapter folded into the weights before quantizing. */
  merge?: { config: VerifiedFile; weights: VerifiedFile } | undefined;
  onProgress?: (progress: { doneBytes: number; totalBytes: number }) => void;
}

export interface PreparedBase {
  /** The GGUF llama.cpp loads. */
  path: string;
  /** Names the conversion (the sources' sha256, converter version, output type): stands for the file's content. */
  key: string;
  /** False when an earlier conversion was reused. */
  converted: boolean;
  /** The converted file's own sha256 (recorded beside it by the converter's cache). */
  sha256: string;
}

/**
 * A transformers base, verified file by file by the supply chain, made into a GGUF once: the converter keys its
 * cache by the sources' sha256 (given here, already verified, so nothing is rehashed), writes atomically and reuses
 * the result at the next start.
 */
export async function prepareBase(options: PrepareBaseOptions): Promise<PreparedBase> {
  const files: Record<string, string> = {};
  const sha256: Record<string, string> = {};
  for (const file of options.base.files) {
    files[file.file] = file.path;
    sha256[file.file] = file.sha256;
  }
  const { merge } = options;
  const result = await convertTransformersCached({
    cacheDir: options.cacheDir,
    files,
    sha256,
    outType: options.quant,
    // The repo's name without its owner (as served names are): a private repo's full id stays out of the file.
    name: options.base.listing.repo.split("/").pop()!,
    ...(merge
      ? {
          merge: {
            adapterConfigPath: merge.config.path,
            safetensorsPath: merge.weights.path,
            sha256: { adapterConfig: merge.config.sha256, safetensors: merge.weights.sha256 },
          },
        }
      : {}),
    ...(options.onProgress
      ? { onProgress: (doneBytes: number, totalBytes: number) => options.onProgress?.({ doneBytes, totalBytes }) }
      : {}),
  });
  const recorded = (await readFile(`${result.path}.sha256`, "utf8").catch(() => "")).trim();
  return {
    path: result.path,
    key: result.key,
    converted: result.converted,
    sha256: /^[0-9a-f]{64}$/.test(recorded) ? recorded : result.key,
  };
}
