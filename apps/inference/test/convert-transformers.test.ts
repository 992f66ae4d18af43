// The proof that the transformers → GGUF conversion is right: in llama.cpp, the converted model computes what a GGUF
// written independently by the test kit from the same tensors computes (its own names, q/k permutation and Gemma norm
// offset), per architecture; and LORA_MERGE equals both the adapter merged by hand and the adapter applied at runtime.
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  drawLoraWeights,
  generatePeftAdapter,
  generateTransformersModel,
  readTokenizerMetadata,
  writeReferenceGguf,
  type TransformersArchitecture,
  type TransformersModel,
} from "@slm/testkit";
import { getLlama, LlamaCompletion, LlamaLogLevel, type Llama, type LlamaModel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertTransformersToGguf } from "../src/convert/index.ts";
import { convertPeftToGguf, readBaseModelInfo } from "../src/lora/index.ts";

const PROMPT = "hello the world, the quick brown fox";
// F32 KV cache and no flash attention: the same weights then give the same logits to float32 precision.
const SAME_WEIGHTS_TOLERANCE = 1e-4;
// Q8_0 against F16 weights: each weight moves by at most half a step of its block (max|w| / 254, under 0.4 %), which
// moves logits by a few percent of their magnitude at most through two layers.
const Q8_0_RELATIVE_TOLERANCE = 0.05;

interface Run {
  logits: Float32Array[];
  text: string;
}

describe("transformers → GGUF in llama.cpp", { timeout: 180_000 }, () => {
  let llama: Llama;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "convert-transformers-"));
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  });
  afterAll(async () => {
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  async function filesOf(folder: string): Promise<Record<string, string>> {
    return Object.fromEntries((await readdir(folder)).map((name) => [name, join(folder, name)]));
  }

  async function run(path: string, lora?: string): Promise<Run> {
    const model: LlamaModel = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
    const context = await model.createContext({
      contextSize: 128,
      sequences: 2,
      threads: 1,
      experimentalKvCacheKeyType: "F32",
      experimentalKvCacheValueType: "F32",
      flashAttention: false,
      ...(lora ? { lora: { adapters: [{ filePath: lora, scale: 1 }] } } : {}),
    });
    try {
      const tokens = model.tokenize(PROMPT);
      const vocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
      const outputs = await context
        .getSequence()
        .controlledEvaluate(
          tokens.map((token): [Token, { generateNext: { logits: true } }] => [
            token,
            { generateNext: { logits: true } },
          ]),
        );
      const logits = outputs.map((output) => {
        const row = new Float32Array(vocab);
        for (const [token, value] of output!.next.logits!) row[token] = value;
        return row;
      });
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      const text = await completion.generateCompletion(PROMPT, { maxTokens: 8, temperature: 0 });
      return { logits, text };
    } finally {
      await context.dispose();
      await model.dispose();
    }
  }

  function maxDifference(a: Run, b: Run): number {
    let max = 0;
    for (const [position, row] of a.logits.entries()) {
      for (const [i, value] of row.entries()) max = Math.max(max, Math.abs(value - b.logits[position]![i]!));
    }
    return max;
  }

  async function reference(model: TransformersModel, converted: string, name: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(
      path,
      writeReferenceGguf(model, { tokenizer: await readTokenizerMetadata(converted), tensorType: "f16" }),
    );
    return path;
  }

  const cases: [
    TransformersArchitecture,
    Parameters<typeof generateTransformersModel>[0] extends infer O ? Partial<O> : never,
  ][] = [
    ["LlamaForCausalLM", { shards: 2 }],
    ["MistralForCausalLM", { dtype: "BF16" }],
    ["Qwen2ForCausalLM", {}],
    ["Qwen3ForCausalLM", { headDim: 32 }],
    ["Gemma3ForCausalLM", { headDim: 32 }],
  ];
  it.each(cases)(
    "%s: the converted model computes what the independently written GGUF computes",
    async (architecture, extra) => {
      const folder = join(dir, architecture);
      const model = await generateTransformersModel({ architecture, dir: folder, seed: 7, ...extra });
      const files = await filesOf(folder);
      const f16 = join(dir, `${architecture}.f16.gguf`);
      const q8 = join(dir, `${architecture}.q8_0.gguf`);
      await convertTransformersToGguf({ files, outType: "f16", outPath: f16 });
      await convertTransformersToGguf({ files, outType: "q8_0", outPath: q8 });

      const converted = await run(f16);
      const expected = await run(await reference(model, f16, `${architecture}.ref.gguf`));
      expect(maxDifference(converted, expected)).toBeLessThan(SAME_WEIGHTS_TOLERANCE);
      expect(converted.text).toBe(expected.text);
      // Not a degenerate model: logits spread over several units.
      expect(Math.max(...converted.logits.at(-1)!) - Math.min(...converted.logits.at(-1)!)).toBeGreaterThan(2);

      // Q8_0: within its error bound of the same weights, and the same greedy text.
      const quantized = await run(q8);
      const magnitude = Math.max(...expected.logits.map((row) => Math.max(...row.map(Math.abs))));
      expect(maxDifference(quantized, expected) / magnitude).toBeLessThan(Q8_0_RELATIVE_TOLERANCE);
      expect(maxDifference(quantized, expected)).toBeGreaterThan(0); // it is quantized
      // Greedy choices agree wherever the F16 model's margin between its two best tokens exceeds the quantization error
      // (random weights have near ties, where any rounding may flip the choice).
      const error = maxDifference(quantized, expected);
      let decided = 0;
      expected.logits.forEach((row, position) => {
        const order = [...row.keys()].sort((a, b) => row[b]! - row[a]!);
        if (row[order[0]!]! - row[order[1]!]! <= 2 * error) return;
        decided++;
        const other = quantized.logits[position]!;
        expect(other.indexOf(Math.max(...other))).toBe(order[0]);
      });
      expect(decided).toBeGreaterThan(0);
    },
  );

  it.each(["LlamaForCausalLM", "Qwen3ForCausalLM", "Gemma3ForCausalLM"] as const)(
    "%s: LORA_MERGE equals the adapter merged by hand and the adapter applied at runtime",
    async (architecture) => {
      const folder = join(dir, `merge-base-${architecture}`);
      const base = await generateTransformersModel({ architecture, dir: folder, seed: 3, dtype: "F32" });
      const loraOptions = {
        base: { nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nLayer: 2 },
        seed: 9,
        r: 4,
        alpha: 8,
        strength: 0.5,
      };
      const adapter = generatePeftAdapter(loraOptions);
      await writeFile(join(dir, "adapter_config.json"), adapter.files["adapter_config.json"]);
      await writeFile(join(dir, "adapter_model.safetensors"), adapter.files["adapter_model.safetensors"]);
      const files = await filesOf(folder);

      const mergedPath = join(dir, `merged-${architecture}.gguf`);
      await convertTransformersToGguf({
        files,
        outType: "f16",
        outPath: mergedPath,
        merge: {
          adapterConfigPath: join(dir, "adapter_config.json"),
          safetensorsPath: join(dir, "adapter_model.safetensors"),
        },
      });
      const basePath = join(dir, `merge-base-${architecture}.gguf`);
      await convertTransformersToGguf({ files, outType: "f16", outPath: basePath });

      // By hand: W + s·B·A in Hugging Face order, on the same tensors.
      const deltas = new Map(drawLoraWeights(loraOptions).map((module) => [`${module.module}.weight`, module]));
      const handMerged: TransformersModel = {
        ...base,
        tensors: base.tensors.map((tensor) => {
          const module = deltas.get(tensor.name);
          if (!module) return tensor;
          const [rows, columns] = tensor.shape as [number, number];
          const data = Float32Array.from(tensor.data);
          for (let o = 0; o < rows; o++) {
            for (let i = 0; i < columns; i++) {
              let sum = 0;
              for (let k = 0; k < module.rank; k++) sum += module.b[o * module.rank + k]! * module.a[k * columns + i]!;
              data[o * columns + i] = data[o * columns + i]! + module.scaling * sum;
            }
          }
          return { ...tensor, data };
        }),
      };
      expect(deltas.size).toBe(14);

      const merged = await run(mergedPath);
      const byHand = await run(await reference(handMerged, mergedPath, `hand-merged-${architecture}.gguf`));
      const bare = await run(basePath);
      expect(maxDifference(merged, bare)).toBeGreaterThan(1); // the adapter matters
      expect(maxDifference(merged, byHand)).toBeLessThan(SAME_WEIGHTS_TOLERANCE);
      expect(merged.text).toBe(byHand.text);

      const adapterPath = join(dir, `adapter-${architecture}.gguf`);
      await writeFile(
        adapterPath,
        convertPeftToGguf({
          adapterConfig: adapter.files["adapter_config.json"],
          safetensors: adapter.files["adapter_model.safetensors"],
          base: await readBaseModelInfo(basePath),
        }),
      );
      const atRuntime = await run(basePath, adapterPath);
      // The merged weights are rounded to F16 once; the runtime adds an F32 delta to F16 weights.
      expect(maxDifference(merged, atRuntime)).toBeLessThan(0.05);
      expect(merged.text).toBe(atRuntime.text);
    },
  );
});
