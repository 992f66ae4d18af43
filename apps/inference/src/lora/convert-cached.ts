import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { convertPeftFiles } from "./convert-peft-files.ts";
import { CONVERTER_VERSION } from "./convert-peft-to-gguf.ts";
import { MissingSourceError } from "./errors.ts";
import { writeFileAtomic } from "./write-file-atomic.ts";

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
 * reuses it. The file is written under a temporary name and renamed, so a crash never leaves a partial adapter, and
 * its own sha256 is recorded beside it (`<key>.gguf.sha256`): a converted file is reused only while it still hashes
 * to that, otherwise it is converted again.
 */
export async function convertCached(options: ConvertCachedOptions): Promise<ConvertCachedResult> {
  const outType = options.outType ?? "f32";
  const [configSha, safetensorsSha, baseSha] = await Promise.all([
    options.sha256?.adapterConfig ?? sha256File(options.adapterConfigPath),
    options.sha256?.safetensors ?? sha256File(options.safetensorsPath),
    options.sha256?.base ?? sha256File(options.basePath),
  ]);
  const key = createHash("sha256")
    .update(JSON.stringify({ converter: CONVERTER_VERSION, configSha, safetensorsSha, baseSha, outType, name: options.name ?? null }))
    .digest("hex");
  const path = join(options.cacheDir, `${key}.gguf`);
  const digestPath = `${path}.sha256`;
  if (await isFile(path)) {
    const recorded = (await readFile(digestPath, "utf8").catch(() => "")).trim();
    if (recorded.length === 64 && (await sha256File(path)) === recorded) return { path, key, converted: false };
  }

  const { bytes } = await convertPeftFiles({ ...options, outType });
  await mkdir(options.cacheDir, { recursive: true });
  await writeFileAtomic(path, bytes);
  await writeFileAtomic(digestPath, Buffer.from(`${createHash("sha256").update(bytes).digest("hex")}\n`));
  return { path, key, converted: true };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    throw new MissingSourceError(basename(path));
  }
  return hash.digest("hex");
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
