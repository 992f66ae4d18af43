// The proof that the PEFT -> GGUF conversion is right (docs/lora-format.md, "The proof that matters"): in
// llama.cpp, base + converted adapter must compute what a model with the adapter merged by hand computes. The test
// kit draws the base in Hugging Face order and stores q/k reordered like llama.cpp's converter, and merges
// W + scale · s · B·A in Hugging Face order before storing the same way; only mapping, reorder, transposition,
// scaling and loader compatibility all being right makes the outputs agree.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateLoraBase, generateMergedLlama, generatePeftAdapter, type TinyLoraOptions } from "@slm/testkit";
import { getLlama, LlamaCompletion, LlamaLogLevel, type Llama, type LlamaModel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertPeftToGguf, readBaseModelInfo, type ConvertPeftOptions } from "../src/lora/index.ts";

const PROMPT = "Hello world the model says";
const MAX_TOKENS = 16;
// Runs use an F32 KV cache and no flash attention: both round K/V/Q to F16 on the CPU, which turns float32-level
// differences between W' x and W x + s·B(A x) into ~1e-3 ones. So configured, logits of about ±10 agree to ~1e-5;
// a wrong reorder, scale or transposition moves them by whole units.
const LOGIT_TOLERANCE = 1e-4;
// F16 adapter tensors make ggml round the activations to F16 before A·x (its F16 matmul path): ~1e-3 relative.
const F16_LOGIT_TOLERANCE = 2e-2;
// The service's own settings (F16 KV cache, flash attention "auto"): greedy text must still agree.
const SERVICE_LOGIT_TOLERANCE = 2e-2;

interface Run {
  /** Logits after each prompt token, indexed by token id. */
  logits: Float32Array[];
  /** Greedy continuation. */
  text: string;
}

describe("LoRA conversion proof in llama.cpp", { timeout: 180_000 }, () => {
  let llama: Llama;
  let dir: string;
  const loaded: LlamaModel[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lora-proof-"));
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  });
  afterAll(async () => {
    for (const model of loaded) await model.dispose();
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  async function load(name: string, bytes: Uint8Array): Promise<LlamaModel> {
    await writeFile(join(dir, name), bytes);
    const model = await llama.loadModel({ modelPath: join(dir, name), gpuLayers: 0 });
    loaded.push(model);
    return model;
  }

  /** Converts the test kit's PEFT adapter against the base file, as the service will. */
  async function convertAdapter(
    name: string,
    options: TinyLoraOptions,
    baseFile: string,
    extra: Partial<ConvertPeftOptions> = {},
  ) {
    const { files } = generatePeftAdapter(options);
    const base = await readBaseModelInfo(join(dir, baseFile));
    const bytes = convertPeftToGguf({
      adapterConfig: files["adapter_config.json"],
      safetensors: files["adapter_model.safetensors"],
      base,
      ...extra, // may override the base facts
    });
    await writeFile(join(dir, name), bytes);
    return join(dir, name);
  }

  /**
   * Prompt logits and greedy text, single-threaded, in a fresh context with the given adapter; in float32
   * throughout unless `serviceSettings`.
   */
  async function run(
    model: LlamaModel,
    lora?: { filePath: string; scale: number },
    serviceSettings = false,
  ): Promise<Run> {
    const context = await model.createContext({
      contextSize: 256,
      sequences: 2,
      threads: 1,
      ...(serviceSettings
        ? {}
        : { experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", flashAttention: false }),
      ...(lora ? { lora: { adapters: [lora] } } : {}),
    });
    try {
      const tokens = model.tokenize(PROMPT);
      const outputs = await context
        .getSequence()
        .controlledEvaluate(
          tokens.map((token): [Token, { generateNext: { logits: true } }] => [
            token,
            { generateNext: { logits: true } },
          ]),
        );
      const logits = outputs.map((output) => {
        const row = new Float32Array(vocabSize(model));
        for (const [token, value] of output!.next.logits!) row[token] = value;
        return row;
      });
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      const text = await completion.generateCompletion(PROMPT, { maxTokens: MAX_TOKENS, temperature: 0 });
      return { logits, text };
    } finally {
      await context.dispose();
    }
  }

  function vocabSize(model: LlamaModel): number {
    return model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  }

  function maxDifference(a: Run, b: Run): number {
    let max = 0;
    a.logits.forEach((row, position) => {
      const other = b.logits[position]!;
      for (let i = 0; i < row.length; i++) max = Math.max(max, Math.abs(row[i]! - other[i]!));
    });
    return max;
  }

  /** Base + adapter at scale 1 (and 0.5) equals the merged model; at 0 it equals the base; and the adapter matters. */
  async function prove(name: string, options: TinyLoraOptions, extra: Partial<ConvertPeftOptions> = {}) {
    const tolerance = extra.outType === "f16" ? F16_LOGIT_TOLERANCE : LOGIT_TOLERANCE;
    const base = await load(`${name}-base.gguf`, generateLoraBase(options));
    const merged = await load(`${name}-merged.gguf`, generateMergedLlama(options, 1));
    const mergedHalf = await load(`${name}-merged-half.gguf`, generateMergedLlama(options, 0.5));
    const filePath = await convertAdapter(`${name}-adapter.gguf`, options, `${name}-base.gguf`, extra);

    const bare = await run(base);
    const adapted = await run(base, { filePath, scale: 1 });
    const byHand = await run(merged);
    const halfAdapted = await run(base, { filePath, scale: 0.5 });
    const halfByHand = await run(mergedHalf);
    const off = await run(base, { filePath, scale: 0 });

    // The adapter changes the model visibly, otherwise the rest would prove nothing.
    expect(maxDifference(bare, adapted)).toBeGreaterThan(1);
    expect(adapted.text).not.toBe(bare.text);
    expect(adapted.text.trim()).not.toBe("");

    expect(maxDifference(adapted, byHand)).toBeLessThan(tolerance);
    expect(adapted.text).toBe(byHand.text);
    expect(maxDifference(halfAdapted, halfByHand)).toBeLessThan(tolerance);
    expect(halfAdapted.text).toBe(halfByHand.text);
    expect(maxDifference(off, bare)).toBe(0);
    expect(off.text).toBe(bare.text);
    return { base, merged, filePath };
  }

  it("llama base with grouped-query attention: q/k rows reordered with head_count / head_count_kv", async () => {
    const { base, merged, filePath } = await prove("llama", { base: { seed: 3, nHead: 4, nHeadKv: 2 }, seed: 5 });
    const [adapted, byHand] = [await run(base, { filePath, scale: 1 }, true), await run(merged, undefined, true)];
    expect(maxDifference(adapted, byHand)).toBeLessThan(SERVICE_LOGIT_TOLERANCE);
    expect(adapted.text).toBe(byHand.text);
  });

  it("qwen2 base: the same adapter math without any reorder", async () => {
    await prove("qwen2", { base: { seed: 4, architecture: "qwen2", nHead: 4, nHeadKv: 2 }, seed: 6 });
  });

  it("use_rslora with rank and alpha patterns, from a BF16 adapter", async () => {
    await prove("rslora", {
      base: { seed: 7, nHead: 8 },
      seed: 8,
      r: 8,
      alpha: 16,
      useRslora: true,
      rankPattern: { "layers.1.self_attn.q_proj": 2, down_proj: 4 },
      alphaPattern: { v_proj: 3 },
      dtype: "BF16",
    });
  });

  it("embedding and lm_head LoRA from an F16 adapter, written as F16", async () => {
    await prove(
      "embedding",
      { base: { seed: 9 }, seed: 10, dtype: "F16", targetModules: ["embed_tokens", "q_proj", "k_proj", "lm_head"] },
      { outType: "f16" },
    );
  });

  it("fails without the rotary reorder: the proof is sensitive to it", async () => {
    const options: TinyLoraOptions = {
      base: { seed: 3, nHead: 4, nHeadKv: 2 },
      seed: 5,
      targetModules: ["q_proj", "k_proj"],
    };
    const base = await load("noreorder-base.gguf", generateLoraBase(options));
    const merged = await load("noreorder-merged.gguf", generateMergedLlama(options));
    const info = await readBaseModelInfo(join(dir, "noreorder-base.gguf"));
    // Heads of size 2 make the reorder the identity: the adapter keeps Hugging Face row order.
    const rows = info.tensors.get("blk.0.attn_q.weight")![1]!;
    const kvRows = info.tensors.get("blk.0.attn_k.weight")![1]!;
    const unordered = await convertAdapter("noreorder.gguf", options, "noreorder-base.gguf", {
      base: { ...info, headCount: rows / 2, headCountKv: kvRows / 2 },
    });
    const reordered = await convertAdapter("reorder.gguf", options, "noreorder-base.gguf");
    const byHand = await run(merged);
    expect(maxDifference(await run(base, { filePath: reordered, scale: 1 }), byHand)).toBeLessThan(LOGIT_TOLERANCE);
    expect(maxDifference(await run(base, { filePath: unordered, scale: 1 }), byHand)).toBeGreaterThan(0.1);
  });
});
