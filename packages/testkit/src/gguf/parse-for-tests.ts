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

/** Every tensor of an all-F32 GGUF (as the tiny generators write by default), by name. */
export async function readF32Tensors(bytes: Uint8Array): Promise<Map<string, Float32Array>> {
  const { tensorInfos, tensorDataOffset } = await parseGguf(bytes);
  return new Map(
    tensorInfos.map((info) => {
      const elements = Number(info.shape.reduce((product, dim) => product * dim, 1n));
      const start = Number(tensorDataOffset + info.offset);
      return [info.name, new Float32Array(bytes.slice(start, start + elements * 4).buffer)];
    }),
  );
}
