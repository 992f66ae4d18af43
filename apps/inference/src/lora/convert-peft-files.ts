import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { convertPeftToGguf } from "./convert-peft-to-gguf.ts";
import { MissingSourceError } from "./errors.ts";
import { readBaseModelInfo } from "./read-base-model-info.ts";

export interface ConvertPeftFilesOptions {
  adapterConfigPath: string;
  safetensorsPath: string;
  basePath: string;
  outType?: "f32" | "f16";
  name?: string;
}

/** Reads an adapter's files and the base GGUF's header, and converts (convertPeftToGguf). */
export async function convertPeftFiles(
  options: ConvertPeftFilesOptions,
): Promise<{ bytes: Uint8Array; architecture: string }> {
  const [adapterConfig, safetensors, base] = await Promise.all([
    readSource(options.adapterConfigPath),
    readSource(options.safetensorsPath),
    readBaseModelInfo(options.basePath),
  ]);
  const bytes = convertPeftToGguf({
    adapterConfig,
    safetensors,
    base,
    outType: options.outType ?? "f32",
    ...(options.name === undefined ? {} : { name: options.name }),
  });
  return { bytes, architecture: base.architecture };
}

async function readSource(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch {
    throw new MissingSourceError(basename(path));
  }
}
