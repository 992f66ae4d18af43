import { generate, loadEngine, type Engine, prepareCompletion, startLlama } from "@slm/inference/engine";
import { llamaTools } from "./llama-tools.ts";
import { qwen05bCopyingModel } from "./qwen-model.ts";

/**
 * Prompt-lookup decoding, on and off, side by side (alternating rounds) on the Qwen2.5-0.5B-shaped model whose greedy
 * answers follow a fixed chain (qwen-model.ts), our engine in-process:
 *  - "copies": the prompt holds the answer (the chain after a start text, then the start text again), as an
 *    extraction or rewriting request's prompt holds most of its answer;
 *  - "no copy": a prompt that does not hold the answer (what the look-up costs when it finds nothing);
 *  - the same with `--streams 4` (guessing is off while other generations run: the cost of the check).
 *
 *   pnpm bench:inference --case prompt-lookup [--threads 1,2] [--streams 1,4] [--rounds 3] [--tokens 96]
 */
export interface PromptLookupOptions {
  threads: number[];
  streams: number[];
  rounds: number;
  tokens: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function runPromptLookup(options: PromptLookupOptions): Promise<string[]> {
  const modelPath = await qwen05bCopyingModel(await llamaTools());
  const parallel = Math.max(...options.streams);
  const lines = [
    `Qwen2.5-0.5B-shaped Q4_K_M (copying chain), our engine in-process, greedy ${options.tokens} tokens, ${options.rounds} alternating rounds`,
    "",
    "| threads | streams | request | tok/s off | tok/s on | on / off | guesses confirmed per answer | same answer |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const threads of options.threads) {
    const load = async (promptLookup: boolean) =>
      loadEngine({
        llama: await startLlama(threads),
        modelPath,
        threads,
        contextSize: 1024,
        parallel,
        maxQueue: 64,
        embeddings: false,
        promptLookup,
      });
    const off = await load(false);
    const on = await load(true);
    try {
      const start = "Extract the record below.";
      const chain = (await answer(off, start, options.tokens)).text;
      for (const streams of options.streams) {
        for (const [label, prompt] of [
          ["copies", `${start}${chain}\n${start}`],
          ["no copy", "Write a story about a dragon."],
        ] as const) {
          const tps = { off: [] as number[], on: [] as number[] };
          let confirmed = 0;
          let same = true;
          for (let r = 0; r < options.rounds; r++) {
            const texts = { off: "", on: "" };
            for (const [name, engine] of r % 2 === 0
              ? ([
                  ["off", off],
                  ["on", on],
                ] as const)
              : ([
                  ["on", on],
                  ["off", off],
                ] as const)) {
              const prompts = Array.from({ length: streams }, (_, i) => (i === 0 ? prompt : `${prompt} ${i}`));
              const started = performance.now();
              const answers = await Promise.all(prompts.map((p) => answer(engine, p, options.tokens)));
              tps[name].push((answers.reduce((s, a) => s + a.tokens, 0) / (performance.now() - started)) * 1000);
              if (name === "on") confirmed = answers[0]!.confirmed;
              // Compared with the other engine's answer to the same prompts at the same concurrency: on a quantized
              // model llama.cpp's greedy answer can depend on what else is in the batch, with or without guesses.
              texts[name] = answers.map((a) => a.text).join("\u0000");
            }
            same &&= texts.on === texts.off;
          }
          const ratio = median(tps.on.map((x, i) => x / tps.off[i]!));
          const line = `| ${threads} | ${streams} | ${label} | ${median(tps.off).toFixed(1)} | ${median(tps.on).toFixed(1)} | ${ratio.toFixed(2)} | ${confirmed} | ${same ? "yes" : "NO"} |`;
          lines.push(line);
          console.log(line);
        }
      }
    } finally {
      await on.dispose();
      await off.dispose();
    }
  }
  return lines;
}

async function answer(
  engine: Engine,
  prompt: string,
  maxTokens: number,
): Promise<{ text: string; tokens: number; confirmed: number }> {
  const prepared = await prepareCompletion(engine, { prompt, maxTokens, temperature: 0 });
  return engine.pool.with(undefined, async (sequence) => {
    // A fresh start each time: no answer reuses an earlier one's evaluation.
    await sequence.clearHistory();
    const before = sequence.tokenPredictions.validated;
    const result = await generate(sequence, prepared, { steps: engine.steps });
    return {
      text: result.text,
      tokens: result.completionTokens,
      confirmed: sequence.tokenPredictions.validated - before,
    };
  });
}
