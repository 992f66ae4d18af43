import { availableParallelism } from "node:os";
import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";

export interface ThreadMeasurement {
  threads: number;
  /** Median greedy decode speed of one sequence, token by token. */
  tokensPerSecond: number;
  /** Median speed of one decoding step of `batch` tokens, as when that many sequences generate together. */
  batchTokensPerSecond: number | undefined;
}

export interface MeasureThreadsOptions {
  /** Thread counts to try. Default: `threadCandidates(availableParallelism())`. */
  candidates?: number[];
  /** Tokens per step to measure as a batch (min(PARALLEL, 8)); 1 skips the batch measurement. */
  batch: number;
  /** Rounds per candidate, interleaved so a noisy neighbour hits all of them alike. Default 3. */
  rounds?: number;
  /** Tokens timed per round, after the prompt. Default 4. */
  tokens?: number;
}

/** Within this factor, the fewer threads win: more threads also compete with the HTTP thread under load. */
const MARGIN = 1.1;

/**
 * Generation threads chosen by measurement on the loaded model, not by core count: the best count depends on the
 * model, the binary and the machine (node-llama-cpp's own default was ~150x slower than 1 thread on 2 cores). Each
 * candidate decodes a few greedy tokens, and one batch of `batch` tokens, in its own small context, in 3
 * interleaved rounds: about 30 ms (tiny model) to 0.5 s (60M f16) at startup.
 */
export async function measureThreads(model: LlamaModel, options: MeasureThreadsOptions): Promise<ThreadMeasurement[]> {
  const candidates = options.candidates ?? threadCandidates(availableParallelism());
  const rounds = options.rounds ?? 3;
  const tokens = options.tokens ?? 4;
  const prompt = model.tokenize("The quick brown fox", false);
  const contexts = await Promise.all(
    candidates.map((threads) =>
      model.createContext({
        contextSize: Math.min(256, model.trainContextSize),
        batchSize: Math.max(options.batch, 8),
        sequences: 1,
        threads: { ideal: threads, min: threads },
      }),
    ),
  );
  const sequences = contexts.map((c) => c.getSequence());
  const single = candidates.map(() => [] as number[]);
  const batched = candidates.map(() => [] as number[]);
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [i, sequence] of sequences.entries()) {
        single[i]!.push(await timeDecode(sequence, prompt, tokens));
        if (options.batch > 1) batched[i]!.push(await timeBatch(sequence, prompt, options.batch));
      }
    }
  } finally {
    await Promise.all(contexts.map((c) => c.dispose()));
  }
  return candidates.map((threads, i) => ({
    threads,
    tokensPerSecond: median(single[i]!),
    batchTokensPerSecond: options.batch > 1 ? median(batched[i]!) : undefined,
  }));
}

/**
 * For one sequence, the fewest threads within 10% of the fastest. With batches measured (PARALLEL > 1): among the
 * counts within 10% of the fastest single sequence, the fewest within 10% of the best batch speed.
 */
export function pickThreads(measurements: readonly ThreadMeasurement[]): number {
  const sorted = [...measurements].sort((a, b) => a.threads - b.threads);
  const bestSingle = Math.max(...sorted.map((m) => m.tokensPerSecond));
  const fastEnough = sorted.filter((m) => m.tokensPerSecond * MARGIN >= bestSingle);
  if (fastEnough.some((m) => m.batchTokensPerSecond === undefined)) return fastEnough[0]!.threads;
  const bestBatch = Math.max(...fastEnough.map((m) => m.batchTokensPerSecond!));
  return (fastEnough.find((m) => m.batchTokensPerSecond! * MARGIN >= bestBatch) ?? fastEnough[0]!).threads;
}

/**
 * 1, 2, 4, ... up to the cores minus one, and that count itself. One core is left to the event loop (which handles
 * every token of every stream: sampling hand-off, SSE writes) and to what runs beside inference (the gateway):
 * llama.cpp's threads spin while they wait for each other, and on 2 cores a second one measured faster when idle
 * but collapsed under HTTP load (4 streams of the 61M model fell from 118 to 18 tok/s; llama-server -t 2 alike).
 */
export function threadCandidates(cores: number): number[] {
  const usable = Math.max(1, cores - 1);
  const counts = new Set<number>();
  for (let n = 1; n <= usable; n *= 2) counts.add(n);
  counts.add(usable);
  return [...counts].sort((a, b) => a - b);
}

/** Greedy tokens after the prompt, timed from the first (which pays for the prompt). */
async function timeDecode(sequence: LlamaContextSequence, prompt: Token[], tokens: number): Promise<number> {
  await sequence.clearHistory();
  let count = -1;
  let started = 0;
  for await (const _token of sequence.evaluate(prompt, { temperature: 0 })) {
    if (count < 0) started = performance.now();
    if (++count >= tokens) break;
  }
  return count / ((performance.now() - started) / 1000);
}

/** One decoding step of `batch` tokens after the prompt. */
async function timeBatch(sequence: LlamaContextSequence, prompt: Token[], batch: number): Promise<number> {
  await sequence.clearHistory();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt);
  const tokens = Array.from({ length: batch }, (_, i) => prompt[i % prompt.length]!);
  const started = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(tokens);
  return batch / ((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
