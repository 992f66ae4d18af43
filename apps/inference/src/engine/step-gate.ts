/**
 * Lines up the running generations of one context so that each decoding step is one llama.cpp batch.
 *
 * node-llama-cpp batches whatever decodes are queued when it dispatches, in queue order. Left alone, generations
 * drift apart (a decode queued while a batch runs is sent in a batch of its own) and queue in arbitrary order. With
 * per-sequence KV streams (node-llama-cpp's setting) llama.cpp only computes a batch in one pass when its sequences
 * come in increasing consecutive ids; otherwise it splits it into passes of a few sequences, each re-reading every
 * weight (measured: 8 streams of the 61M model gave no more tokens/s than 1). So each generation waits here after
 * its token until every running generation has its token, and all then ask for their next token together, in
 * sequence order: one step, one batch, one pass. A generation joins at its first token (its prompt is evaluated
 * alone or alongside a step) and leaves when it ends.
 */
export class StepGate<K> {
  private readonly rank: Map<K, number>;
  private readonly members = new Set<K>();
  private readonly waiting = new Map<K, () => void>();

  /** `keys` in the order their decodes should be queued (sequence id order). */
  constructor(keys: readonly K[]) {
    this.rank = new Map(keys.map((key, i) => [key, i]));
  }

  /**
   * Called after `key` received a token and before it asks for the next. Resolves when every running generation
   * got its token (or left), or at once when `signal` aborts.
   */
  arrive(key: K, signal?: AbortSignal): Promise<void> {
    this.members.add(key);
    if (signal?.aborted) {
      this.leave(key);
      return Promise.resolve();
    }
    const arrived = new Promise<void>((resolve) => {
      const onAbort = () => {
        this.waiting.delete(key);
        this.leave(key);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(key, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
    this.releaseIfComplete();
    return arrived;
  }

  /** The generation ended: the others no longer wait for it. */
  leave(key: K): void {
    this.members.delete(key);
    this.waiting.delete(key);
    this.releaseIfComplete();
  }

  private releaseIfComplete(): void {
    if (this.waiting.size === 0 || this.waiting.size < this.members.size) return;
    const order = [...this.waiting.entries()].sort(([a], [b]) => (this.rank.get(a) ?? 0) - (this.rank.get(b) ?? 0));
    this.waiting.clear();
    // Released one microtask later, not from inside the last `arrive`: that caller only starts awaiting its promise
    // after `arrive` returns, so a release from inside would resume it after all the others whatever its rank, and
    // a low sequence id queued last splits the step into two passes (measured: a third of 4-stream steps, ~25 %
    // more CPU per token). Released here, every generation resumes, and queues its decode, in sequence order.
    queueMicrotask(() => {
      for (const [, release] of order) release();
    });
  }
}
