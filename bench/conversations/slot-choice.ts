/**
 * Which slot a short request gets, and what it costs: one request at a time over 4 slots, in rounds of five prompts
 * (a new completion, a chat-shaped prompt sharing a system prefix with the others, a ~200-token prompt, a completion
 * repeated every round, a chat-shaped prompt repeated every round), under two slot scores, in-process on our engine:
 *  - `current`: serve-generation.ts's score with the prompt cache on but holding nothing for these prompts
 *    (max(reused, fromCache) - discarded / (contextSize + 1): any reuse, even 1-3 tokens, beats an empty slot);
 *  - `proposed`: a discarded history that no cache keeps counts in full: reused - discarded (the score inference used
 *    before the prompt cache). The engine here has no prompt cache, so nothing discarded is kept: with the cache on,
 *    the proposal is this for histories it will not save (fewer than its minSaveTokens, 32, discarded) and the
 *    current score for the others.
 * Prints the prompt tokens found evaluated (reused) per prompt kind and the time to first token, per score.
 *
 *   npx tsx bench/conversations/slot-choice.ts [--rounds 4]
 */
import {
  type Engine,
  generate,
  loadEngine,
  type PreparedGeneration,
  prepareCompletion,
  startLlama,
} from "@slm/inference/engine";
import { llamaTools } from "../inference/llama-tools.ts";
import { qwen05bModel } from "../inference/qwen-model.ts";
import { systemPrompt, DEFAULT_WORKLOAD } from "./workload.ts";

const args = process.argv.slice(2);
const i = args.indexOf("--rounds");
const rounds = i >= 0 ? Number(args[i + 1]) : 4;

type Token = PreparedGeneration["prompt"][number];
type LlamaContextSequence = Parameters<Engine["pool"]["release"]>[0];
type Score = (prompt: Token[]) => (sequence: LlamaContextSequence) => number;
const scores: Record<string, Score> = {
  current: (prompt) => (sequence) => {
    const common = sequence.compareContextTokens(prompt).firstDifferentIndex;
    const reused = Math.min(common, prompt.length - 1);
    const discarded = Math.max(0, sequence.nextTokenIndex - common);
    return reused - discarded / (sequence.contextSize + 1);
  },
  proposed: (prompt) => (sequence) => {
    const common = sequence.compareContextTokens(prompt).firstDifferentIndex;
    const reused = Math.min(common, prompt.length - 1);
    const discarded = Math.max(0, sequence.nextTokenIndex - common);
    return reused - discarded;
  },
};

const words = "little robot who wanted to learn how to paint the sea";
const chat = (n: number) =>
  `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nQuestion ${n}: tell me a story about a ${words}.<|im_end|>\n<|im_start|>assistant\n`;
const kinds: Record<string, (round: number) => string> = {
  completion: (r) => `Story ${r + 1}: once upon a time there was a ${words}`,
  chat: (r) => chat(r + 1),
  long: (r) => `Case ${r + 1}. ${systemPrompt({ ...DEFAULT_WORKLOAD, systemWords: 170 })}`,
  "completion-same": () => `Story 0: once upon a time there was a ${words}`,
  "chat-same": () => chat(0),
};

const tools = await llamaTools();
const modelPath = await qwen05bModel(tools);
const lines = ["| score | prompt | tokens | reused (median) | TTFT ms (median) |", "|---|---|---|---|---|"];
for (const [name, score] of Object.entries(scores)) {
  const engine = await loadEngine({
    llama: await startLlama(1),
    modelPath,
    threads: 1,
    contextSize: 1024,
    parallel: 4,
    maxQueue: 8,
    embeddings: false,
  });
  const seen = new Map<string, Array<{ tokens: number; reused: number; ttft: number }>>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [kind, prompt] of Object.entries(kinds)) {
        const prepared = await prepareCompletion(engine, { prompt: prompt(round), maxTokens: 1, temperature: 0 });
        const started = performance.now();
        let first = 0;
        const sequence = await engine.pool.acquire(undefined, undefined, score(prepared.prompt));
        try {
          const result = await generate(sequence, prepared, { onToken: () => (first ||= performance.now()) });
          if (round > 0)
            seen.set(kind, [
              ...(seen.get(kind) ?? []),
              { tokens: result.promptTokens, reused: result.cachedPromptTokens, ttft: first - started },
            ]);
        } finally {
          engine.pool.release(sequence);
        }
      }
    }
  } finally {
    await engine.dispose();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [kind, list] of seen)
    lines.push(
      `| ${name} | ${kind} | ${list[0]!.tokens} | ${median(list.map((s) => s.reused))} | ${median(list.map((s) => s.ttft)).toFixed(0)} |`,
    );
}
console.log(lines.join("\n"));
process.exit(0);
