import { describe, expect, it } from "vitest";
import { pickThreads, threadCandidates } from "./choose-threads.ts";

describe("pickThreads", () => {
  const m = (threads: number, tokensPerSecond: number, batchTokensPerSecond?: number) => ({
    threads,
    tokensPerSecond,
    batchTokensPerSecond,
  });

  it("takes the fewest threads within 10% of the fastest single sequence", () => {
    expect(pickThreads([m(1, 150), m(2, 60)])).toBe(1);
    expect(pickThreads([m(1, 100), m(2, 105)])).toBe(1);
    expect(pickThreads([m(1, 100), m(2, 150), m(4, 160)])).toBe(2);
  });

  it("with batches measured, prefers batch speed among counts that keep single-sequence speed", () => {
    expect(pickThreads([m(1, 124, 220), m(2, 113, 400)])).toBe(2);
    // Two threads batch faster but would slow every single stream by more than 10%: not taken.
    expect(pickThreads([m(1, 150, 285), m(2, 60, 400)])).toBe(1);
    expect(pickThreads([m(1, 120, 300), m(2, 118, 310)])).toBe(1);
  });
});

describe("threadCandidates", () => {
  it("tries powers of two up to the cores minus one (left to the event loop), and that count", () => {
    expect(threadCandidates(1)).toEqual([1]);
    expect(threadCandidates(2)).toEqual([1]);
    expect(threadCandidates(4)).toEqual([1, 2, 3]);
    expect(threadCandidates(8)).toEqual([1, 2, 4, 7]);
  });
});

describe("measureThreads", () => {
  it("times single-sequence decoding and a batch for each candidate on the loaded model", {
    timeout: 60_000,
  }, async () => {
    const { mkdtemp, rm, writeFile } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { generateTinyLlama } = await import("@slm/testkit");
    const { startLlama } = await import("./start-llama.ts");
    const { measureThreads } = await import("./choose-threads.ts");
    const dir = await mkdtemp(join(tmpdir(), "threads-"));
    const path = join(dir, "tiny.gguf");
    await writeFile(path, generateTinyLlama({ seed: 2 }));
    const llama = await startLlama(2);
    try {
      const model = await llama.loadModel({ modelPath: path });
      const measured = await measureThreads(model, { candidates: [1, 2], batch: 4, rounds: 2 });
      expect(measured.map((m) => m.threads)).toEqual([1, 2]);
      for (const m of measured) {
        expect(m.tokensPerSecond).toBeGreaterThan(0);
        expect(m.batchTokensPerSecond).toBeGreaterThan(0);
      }
    } finally {
      await llama.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
