// Test support: parses GGUF bytes with @huggingface/gguf, an independent reader.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";

/** Parses GGUF bytes (the reader only accepts paths/URLs, hence the temp file). */
export async function parseGguf(bytes: Uint8Array) {
  const dir = await mkdtemp(join(tmpdir(), "gguf-parse-"));
  try {
    const path = join(dir, "model.gguf");
    await writeFile(path, bytes);
    return await gguf(path, { allowLocalFile: true, typedMetadata: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
