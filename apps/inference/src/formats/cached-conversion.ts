import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./write-file-atomic.ts";

export interface CachedConversionOptions {
  cacheDir: string;
  /** Hex digest naming the conversion (sources' sha256, converter version, options). */
  key: string;
  /**
   * Called only when there is no usable earlier conversion: checks the sources (throwing leaves nothing behind, not
   * even the cache folder), then returns the writer of the converted file at the temporary path it is given (renamed
   * into place only once complete).
   */
  produce: () => Promise<(temporaryPath: string) => Promise<void>>;
}

export interface CachedConversionResult {
  /** `<cacheDir>/<key>.gguf`. */
  path: string;
  key: string;
  /** False when an earlier conversion was reused. */
  converted: boolean;
}

/**
 * Converts once per key, for adapters and transformers models alike: the result lives at `<key>.gguf`, written under a
 * temporary name and renamed, so a crash never leaves a partial file, with its own sha256 recorded beside it
 * (`<key>.gguf.sha256`). A converted file is reused only while it still hashes to that, otherwise it is redone.
 */
export async function cachedConversion({
  cacheDir,
  key,
  produce,
}: CachedConversionOptions): Promise<CachedConversionResult> {
  const path = join(cacheDir, `${key}.gguf`);
  const digestPath = `${path}.sha256`;
  if (await isFile(path)) {
    const recorded = (await readFile(digestPath, "utf8").catch(() => "")).trim();
    if (recorded.length === 64 && (await sha256File(path)) === recorded) return { path, key, converted: false };
  }
  const write = await produce();
  await mkdir(cacheDir, { recursive: true });
  const temporary = `${path}.${process.pid}-${randomUUID()}.tmp`;
  try {
    await write(temporary);
    const digest = await sha256File(temporary);
    await rename(temporary, path);
    await writeFileAtomic(digestPath, `${digest}\n`, { flush: true });
  } finally {
    await rm(temporary, { force: true });
  }
  return { path, key, converted: true };
}

/** The hex sha256 of a file, streamed. Rejects with the fs error when it cannot be read. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
