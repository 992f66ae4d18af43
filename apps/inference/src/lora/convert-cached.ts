import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { cachedConversion, sha256File } from "../formats/index.ts";
import { convertPeftFiles } from "./convert-peft-files.ts";
import { CONVERTER_VERSION } from "./convert-peft-to-gguf.ts";
import { MissingSourceError } from "./errors.ts";

export interface ConvertCachedOptions {
  /** Where converted adapters are kept (created if missing). */
  cacheDir: string;
  adapterConfigPath: string;
  safetensorsPath: string;
  basePath: string;
  /** Hex sha256 of the sources when already known (verified by the supply chain); computed otherwise. */
  sha256?: { adapterConfig?: string; safetensors?: string; base?: string };
  outType?: "f32" | "f16";
  name?: string;
}

export interface ConvertCachedResult {
  /** The converted GGUF adapter. */
  path: string;
  /** Hex sha256 naming the conversion: the sources' sha256, the options and the converter version. */
  key: string;
  /** False when an earlier conversion was reused. */
  converted: boolean;
}

/**
 * Converts a PEFT adapter once: the result is stored under a key derived from the sources' sha256 (adapter config,
 * safetensors and base, whose architecture and shapes shape the output) and the converter version, so a restart
 * reuses it; atomic and verified by its recorded sha256 (see cachedConversion).
 */
export async function convertCached(options: ConvertCachedOptions): Promise<ConvertCachedResult> {
  const outType = options.outType ?? "f32";
  const [configSha, safetensorsSha, baseSha] = await Promise.all([
    options.sha256?.adapterConfig ?? sourceSha256(options.adapterConfigPath),
    options.sha256?.safetensors ?? sourceSha256(options.safetensorsPath),
    options.sha256?.base ?? sourceSha256(options.basePath),
  ]);
  const key = createHash("sha256")
    .update(
      JSON.stringify({
        converter: CONVERTER_VERSION,
        configSha,
        safetensorsSha,
        baseSha,
        outType,
        name: options.name ?? null,
      }),
    )
    .digest("hex");
  return cachedConversion({
    cacheDir: options.cacheDir,
    key,
    produce: async () => {
      const { bytes } = await convertPeftFiles({ ...options, outType });
      return (temporary) => writeFile(temporary, bytes, { flush: true });
    },
  });
}

async function sourceSha256(path: string): Promise<string> {
  try {
    return await sha256File(path);
  } catch {
    throw new MissingSourceError(basename(path));
  }
}
