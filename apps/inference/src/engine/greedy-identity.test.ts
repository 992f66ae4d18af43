import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LlamaContextSequence } from "node-llama-cpp";
import { generateVocabModel, llamaSourcePath, readTokenizerMetadata } from "@slm/testkit";
import { generate } from "./generate.ts";
import { loadEngine, type Engine, type LoadEngineOptions } from "./load-engine.ts";
import { prepareCompletion } from "./prepare-completion.ts";
import { startLlama } from "./start-llama.ts";

/**
 * Speed never changes answers: every speed option of the engine, on and off, gives the same greedy answers, alone and
 * with concurrent streams, on a random-weight model with the real Qwen2 vocabulary. Each option is also checked to
 * have acted (prompt lookup: guesses were confirmed), so the comparison is not between two identical runs.
 */
type Variant = Pick<LoadEngineOptions, "promptLookup">;
const VARIANTS: Record<string, Variant> = {
  baseline: { promptLookup: false },
  "prompt lookup": { promptLookup: true },
};

let dir: string;
let modelPath: string;
const engines = new Map<string, Engine>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "greedy-identity-"));
  modelPath = join(dir, "qwen2-vocab.gguf");
  const tokenizer = await readTokenizerMetadata(await llamaSourcePath("models/ggml-vocab-qwen2.gguf"));
  await writeFile(
    modelPath,
    generateVocabModel({
      tokenizer,
      architecture: "qwen2",
      seed: 3,
      nEmbd: 64,
      nLayer: 2,
      attentionOff: true,
      tiedEmbeddings: true,
    }),
  );
  for (const [name, variant] of Object.entries(VARIANTS)) {
    engines.set(
      name,
      await loadEngine({
        llama: await startLlama(1),
        modelPath,
        threads: 1,
        contextSize: 512,
        parallel: 3,
        maxQueue: 8,
        embeddings: false,
        ...variant,
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  for (const engine of engines.values()) await engine.dispose();
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  text: string;
  completionTokens: number;
  /** Guesses the model confirmed (prompt lookup). */
  validated: number;
}

async function answer(engine: Engine, prompt: string, maxTokens = 40): Promise<Answer> {
  const prepared = await prepareCompletion(engine, { prompt, maxTokens, temperature: 0 });
  let held: LlamaContextSequence | undefined;
  const before = { validated: 0 };
  const result = await engine.pool.with(undefined, (sequence) => {
    held = sequence;
    before.validated = sequence.tokenPredictions.validated;
    return generate(sequence, prepared, { steps: engine.steps });
  });
  return {
    text: result.text,
    completionTokens: result.completionTokens,
    validated: held!.tokenPredictions.validated - before.validated,
  };
}

describe("greedy answers with and without each speed option", () => {
  it("are identical for one stream, including an answer that copies its prompt", { timeout: 60_000 }, async () => {
    const base = engines.get("baseline")!;
    const plain = "The capital of France is";
    const first = await answer(base, plain);
    // A prompt that already holds the answer (the model's greedy chain after `plain`, see `attentionOff`): the answer
    // copies it, which is what prompt lookup guesses from.
    const copying = `${plain}${first.text}\n${plain}`;
    for (const prompt of [plain, copying]) {
      const expected = await answer(base, prompt);
      for (const name of Object.keys(VARIANTS).filter((n) => n !== "baseline")) {
        const got = await answer(engines.get(name)!, prompt);
        expect({ name, text: got.text, tokens: got.completionTokens }).toEqual({
          name,
          text: expected.text,
          tokens: expected.completionTokens,
        });
      }
    }
    expect((await answer(engines.get("prompt lookup")!, copying)).validated).toBeGreaterThan(0);
  });

  it("are identical with concurrent streams", { timeout: 60_000 }, async () => {
    const prompts = ["Once upon a time", "def fibonacci(n):", "今天天气很好，"];
    const results = new Map<string, Answer[]>();
    for (const [name, engine] of engines)
      results.set(name, await Promise.all(prompts.map((p) => answer(engine, p, 32))));
    const expected = results.get("baseline")!.map(({ text, completionTokens }) => ({ text, completionTokens }));
    for (const [name, got] of results)
      expect({ name, answers: got.map(({ text, completionTokens }) => ({ text, completionTokens })) }).toEqual({
        name,
        answers: expected,
      });
  });
});
