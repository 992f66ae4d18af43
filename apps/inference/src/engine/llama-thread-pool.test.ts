import { readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Llama, LlamaContext, LlamaModel } from "node-llama-cpp";
import { generateVocabModel, llamaSourcePath, readTokenizerMetadata } from "@slm/testkit";
import { startLlama } from "./start-llama.ts";

/**
 * Our patch to node-llama-cpp's addon (patches/node-llama-cpp@*.patch, in effect in our source build: `pnpm
 * llama:build`): a context with more than one thread keeps one persistent ggml thread pool, as llama-server does,
 * instead of llama.cpp creating and joining a pool for every decode. Only a source build carries the patch, so
 * with the prebuilt binary this file is skipped, unless SLM_EXPECT_LLAMA_SOURCE_BUILD=1 (CI builds from source after
 * the main suite and runs it so), which makes a missing build a failure instead.
 */
const threadCount = () => readdirSync("/proc/self/task").length;

const llama: Llama = await startLlama(2);
const sourceBuild = llama.buildType === "localBuild";
const runs = sourceBuild || process.env.SLM_EXPECT_LLAMA_SOURCE_BUILD === "1";
let dir: string | undefined;
let model: LlamaModel | undefined;

beforeAll(async () => {
  if (!runs) return;
  dir = await mkdtemp(join(tmpdir(), "thread-pool-"));
  const modelPath = join(dir, "qwen2-vocab.gguf");
  const tokenizer = await readTokenizerMetadata(await llamaSourcePath("models/ggml-vocab-qwen2.gguf"));
  await writeFile(
    modelPath,
    generateVocabModel({ tokenizer, architecture: "qwen2", seed: 5, nEmbd: 64, nLayer: 2, tiedEmbeddings: true }),
  );
  model = await llama.loadModel({ modelPath, gpuLayers: 0 });
}, 60_000);

afterAll(async () => {
  await model?.dispose();
  await llama.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A context of 2 threads, made with SLM_LLAMA_THREADPOOL as given (the patch reads it when the context is made). */
async function context(pool: "0" | undefined): Promise<LlamaContext> {
  const before = process.env.SLM_LLAMA_THREADPOOL;
  if (pool === undefined) delete process.env.SLM_LLAMA_THREADPOOL;
  else process.env.SLM_LLAMA_THREADPOOL = pool;
  try {
    return await model!.createContext({ contextSize: 256, sequences: 1, threads: { ideal: 2, min: 2 } });
  } finally {
    if (before === undefined) delete process.env.SLM_LLAMA_THREADPOOL;
    else process.env.SLM_LLAMA_THREADPOOL = before;
  }
}

async function greedy(ctx: LlamaContext, prompt: string): Promise<number[]> {
  const tokens: number[] = [];
  const sequence = ctx.getSequence();
  try {
    for await (const token of sequence.evaluate(model!.tokenize(prompt), { temperature: 0, yieldEogToken: true })) {
      tokens.push(token);
      if (tokens.length >= 24) break;
    }
  } finally {
    sequence.dispose();
  }
  return tokens;
}

describe.skipIf(!runs)("persistent thread pool (source build)", () => {
  it("is the build the service loads", () => {
    expect(llama.buildType).toBe("localBuild");
  });

  it("keeps one worker thread per 2-thread context across decodes, and frees it with the context", {
    timeout: 60_000,
  }, async () => {
    const perDecode = await context("0");
    const expected = await greedy(perDecode, "Once upon a time");
    const base = threadCount();

    const persistent = await context(undefined);
    const got = await greedy(persistent, "Once upon a time");
    expect(threadCount()).toBe(base + 1);
    await greedy(persistent, "def fibonacci(n):");
    expect(threadCount()).toBe(base + 1);
    // The same greedy answer with the pool as without it: speed never changes answers.
    expect(got).toEqual(expected);

    await persistent.dispose();
    expect(threadCount()).toBe(base);
    await perDecode.dispose();
  });
});
