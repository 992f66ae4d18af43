import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generateVocabModel, llamaSourcePath, readTokenizerMetadata } from "@slm/testkit";
import type { LlamaTools } from "./llama-tools.ts";

const run = promisify(execFile);
const cacheDir = fileURLToPath(new URL("../../node_modules/.cache/bench-models/", import.meta.url));

/**
 * Qwen2.5-0.5B's shape (config.json of Qwen/Qwen2.5-0.5B-Instruct: 24 layers, 896 wide, 14 query and 2 KV heads,
 * 4864 FFN, tied embeddings) with random weights and the real Qwen2 vocabulary (llama.cpp's
 * models/ggml-vocab-qwen2.gguf, 151,936 tokens), quantized to Q4_K_M by llama-quantize: the same tensor types and
 * about the size of the released Q4_K_M file, so the compute per token is the real model's.
 * Written once (F16, ~1 GB, then quantized; a minute or two) and cached under node_modules/.cache/bench-models/.
 */
export const QWEN05B_SHAPE = {
  nLayer: 24,
  nEmbd: 896,
  nHead: 14,
  nHeadKv: 2,
  nFf: 4864,
  contextLength: 32768,
} as const;

/**
 * The same with the attention output zeroed (`attentionOff`, same compute per token): greedy answers follow a fixed
 * chain, so a prompt holding the chain is copied, as extraction or rewriting answers copy theirs. For prompt lookup.
 */
export async function qwen05bCopyingModel(tools: LlamaTools): Promise<string> {
  return quantized(tools, "qwen2.5-0.5b-shaped-copying", true);
}

export async function qwen05bModel(tools: LlamaTools): Promise<string> {
  return quantized(tools, "qwen2.5-0.5b-shaped", false);
}

async function quantized(tools: LlamaTools, name: string, attentionOff: boolean): Promise<string> {
  const path = join(cacheDir, `${name}-Q4_K_M.gguf`);
  if (existsSync(path)) return path;
  await mkdir(cacheDir, { recursive: true });
  console.log(`writing ${name} (F16, random weights, real vocabulary) and quantizing it to ${path}`);
  const f16 = await qwen05bF16(name, attentionOff);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await run(tools.quantize, [f16, temporary, "Q4_K_M", "2"], { maxBuffer: 64 << 20 });
    await rename(temporary, path);
    await rm(f16, { force: true });
  } finally {
    await rm(temporary, { force: true });
  }
  console.log(`model: ${((await stat(path)).size / 1e6).toFixed(0)} MB`);
  return path;
}

/** The unquantized file (kept until quantized, so a missing llama-quantize does not cost the writing twice). */
export async function qwen05bF16(name: string, attentionOff: boolean): Promise<string> {
  const f16 = join(cacheDir, `${name}-F16.gguf`);
  if (existsSync(f16)) return f16;
  await mkdir(cacheDir, { recursive: true });
  const tokenizer = await readTokenizerMetadata(await llamaSourcePath("models/ggml-vocab-qwen2.gguf"));
  const temporary = `${f16}.${process.pid}.tmp`;
  await writeFile(
    temporary,
    generateVocabModel({
      tokenizer,
      architecture: "qwen2",
      tiedEmbeddings: true,
      attentionOff,
      seed: 5,
      name,
      ...QWEN05B_SHAPE,
    }),
  );
  await rename(temporary, f16);
  return f16;
}
