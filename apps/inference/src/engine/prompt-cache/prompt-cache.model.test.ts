import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateVocabModel, llamaSourcePath, readTokenizerMetadata } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../generate.ts";
import { type Engine, loadEngine } from "../load-engine.ts";
import { prepareCompletion } from "../prepare-completion.ts";
import { startLlama } from "../start-llama.ts";
import { PromptCache } from "./prompt-cache.ts";

/**
 * The prompt cache on a real llama.cpp context: a random-weight model with attention on (so the KV state decides
 * the answer) and the real Qwen2 vocabulary. Conversations take turns on one slot, as with more users than slots;
 * each turn's greedy answer must be the same whether its history was restored from the cache or evaluated afresh.
 */
let dir: string;
let modelPath: string;
let cached: Engine;
let fresh: Engine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prompt-cache-model-"));
  modelPath = join(dir, "qwen2-vocab.gguf");
  const tokenizer = await readTokenizerMetadata(await llamaSourcePath("models/ggml-vocab-qwen2.gguf"));
  await writeFile(
    modelPath,
    generateVocabModel({ tokenizer, architecture: "qwen2", seed: 11, nEmbd: 64, nLayer: 2, tiedEmbeddings: true }),
  );
  const llama = await startLlama(1);
  const options = { llama, modelPath, threads: 1, contextSize: 1024, parallel: 1, maxQueue: 8, embeddings: false };
  cached = await loadEngine({ ...options, promptCache: new PromptCache({ maxBytes: 256 << 20 }).scope("model") });
  fresh = await loadEngine(options);
}, 180_000);

afterAll(async () => {
  await cached?.dispose();
  await fresh?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const SYSTEM = "You are a helpful assistant for a bicycle shop. Answer briefly and politely. ".repeat(4);

/** One turn on the engine's single slot; with `reset`, the slot is emptied first (a fresh evaluation). */
async function turn(engine: Engine, prompt: string, reset = false) {
  const prepared = await prepareCompletion(engine, { prompt, maxTokens: 16, temperature: 0 });
  return engine.pool.with(undefined, async (sequence) => {
    if (reset) await sequence.clearHistory();
    const restored = engine.promptCache ? await engine.promptCache.prepare([sequence], prepared.prompt) : 0;
    const result = await generate(sequence, prepared, { steps: engine.steps });
    return { text: result.text, cached: result.cachedPromptTokens, restored, promptTokens: result.promptTokens };
  });
}

describe("prompt cache on a real context", () => {
  it("restores each conversation's history into the slot another used, with the answers of a fresh evaluation", async () => {
    const users = ["Ada", "Grace", "Linus"];
    const histories = new Map(
      users.map((u) => [
        u,
        `${SYSTEM}\nUser ${u}: my chain skips when I climb a hill in the highest gear, and the rear wheel makes a clicking noise; what should I check first, and can I fix it at home?\nAssistant:`,
      ]),
    );
    let restoredTurns = 0;
    let answered = 0;
    for (let round = 0; round < 3; round++) {
      for (const user of users) {
        const prompt = histories.get(user)!;
        const withCache = await turn(cached, prompt);
        const afresh = await turn(fresh, prompt, true);
        expect(withCache.text).toBe(afresh.text);
        expect(afresh.cached).toBe(0);
        answered += afresh.text.length;
        if (round > 0) {
          // The slot held another user's conversation: this one's whole history came back from the cache.
          expect(withCache.restored).toBeGreaterThan(0);
          expect(withCache.cached).toBeGreaterThanOrEqual(withCache.promptTokens - 40);
          restoredTurns++;
        }
        histories.set(
          user,
          `${prompt}${withCache.text}\nUser ${user}: thanks; after round ${round}, what tools do I need for that, and how long will the repair take me as a beginner?\nAssistant:`,
        );
      }
    }
    expect(restoredTurns).toBe(6);
    expect(answered).toBeGreaterThan(0);
  }, 120_000);

  it("keeps entries in a directory across a restart (a new cache on the same directory restores them)", async () => {
    const cacheDir = join(dir, "disk");
    const first = new PromptCache({ maxBytes: 256 << 20, dir: cacheDir });
    const engine = { ...cached, promptCache: first.scope("model-disk") };
    const prompt = `${SYSTEM}\nUser Ken: do you sell bells, mirrors and mudguards for a city bike with 28 inch wheels, and do you fit them in the shop?\nAssistant:`;
    const before = await turn(engine, prompt);
    // Another conversation takes the slot: the first is saved, in RAM and on disk.
    await turn(
      engine,
      `${SYSTEM}\nUser Dennis: what about lights that charge over USB, are they bright enough for unlit country roads at night?\nAssistant:`,
    );
    await first.flush();
    expect((await readdir(join(cacheDir))).length).toBe(1);

    const second = new PromptCache({ maxBytes: 256 << 20, dir: cacheDir });
    const restarted = { ...cached, promptCache: second.scope("model-disk") };
    const next = `${prompt}${before.text}\nUser Ken: and baskets?\nAssistant:`;
    const again = await turn(restarted, next);
    const afresh = await turn(fresh, next, true);
    expect(again.restored).toBeGreaterThan(0);
    expect(again.text).toBe(afresh.text);
    // Another namespace (another model or adapter) never sees them.
    const other = new PromptCache({ maxBytes: 256 << 20, dir: cacheDir }).scope("another-model");
    expect(other.cache.enabled).toBe(true);
    await other.cache.loadNamespace("another-model");
    expect(other.longestPrefix((await prepareCompletion(cached, { prompt: next, maxTokens: 1 })).prompt)).toBe(0);
  }, 120_000);
});
