import { SafeError } from "@slm/config";

/**
 * A fixed set of slots (context sequences) handed out one request at a time, with a bounded FIFO of waiters.
 * node-llama-cpp's `getSequence()` throws when all are taken and two generations on one sequence corrupt each other
 * silently, so every generation borrows a slot here and gives it back when done. A free slot is always the first
 * free one in the given order: llama.cpp batches consecutive sequence ids in one pass (see step-gate.ts), so busy
 * sequences are kept packed at the low ids.
 */
export class QueueFullError extends SafeError {
  override readonly name = "QueueFullError";
  /** The code of the 429 it is answered with. */
  readonly code = "server_overloaded";
  constructor(readonly queued: number) {
    super("all slots are busy and the wait queue is full");
  }
}

/** The pool was closed (shutdown): nothing more is handed out. */
export class PoolClosedError extends SafeError {
  override readonly name = "PoolClosedError";
  /** The code of the 503 it is answered with. */
  readonly code = "shutting_down";
}

export interface SlotPoolOptions<T> {
  slots: readonly T[];
  maxQueue: number;
}

interface Waiter<T> {
  /** Slots wanted at once (a request with `n` choices takes n). */
  count: number;
  resolve: (slots: T[]) => void;
  reject: (reason: unknown) => void;
}

export class SlotPool<T> {
  /** Free slots, in the given order. */
  private readonly free: T[];
  private readonly order: Map<T, number>;
  private readonly waiters: Waiter<T>[] = [];
  private closed: Error | undefined;
  private idleWaiters: Array<() => void> = [];
  readonly size: number;
  readonly maxQueue: number;

  constructor(options: SlotPoolOptions<T>) {
    this.free = [...options.slots];
    this.order = new Map(options.slots.map((slot, i) => [slot, i]));
    this.size = options.slots.length;
    this.maxQueue = options.maxQueue;
  }

  get busy(): number {
    return this.size - this.free.length;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** Resolves with a slot; waits in line if none is free; rejects at once if the line is full, or on abort. */
  async acquire(signal?: AbortSignal): Promise<T> {
    return (await this.acquireMany(1, signal))[0]!;
  }

  /**
   * Resolves with `count` slots (1 to `size`), taken together: a request waits in line until all are free, so two
   * requests holding part of what they need can never block each other. The line is first come, first served.
   */
  acquireMany(count: number, signal?: AbortSignal): Promise<T[]> {
    signal?.throwIfAborted();
    if (this.closed) return Promise.reject(this.closed);
    if (count < 1 || count > this.size) return Promise.reject(new RangeError(`between 1 and ${this.size} slots`));
    if (this.waiters.length === 0 && this.free.length >= count) return Promise.resolve(this.free.splice(0, count));
    if (this.waiters.length >= this.maxQueue) return Promise.reject(new QueueFullError(this.waiters.length));
    return new Promise<T[]>((resolve, reject) => {
      const waiter: Waiter<T> = {
        count,
        resolve: (s) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(s);
        },
        reject,
      };
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal?.reason);
        // The waiter behind it may need fewer slots than are free.
        if (index === 0) this.serveWaiters();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(slot: T): void {
    const rank = this.order.get(slot) ?? this.size;
    const at = this.free.findIndex((s) => (this.order.get(s) ?? this.size) > rank);
    this.free.splice(at < 0 ? this.free.length : at, 0, slot);
    this.serveWaiters();
    if (this.busy === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Hands free slots to the waiters at the head of the line, in order, while the first one's count is free. */
  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.free.length >= this.waiters[0]!.count) {
      const next = this.waiters.shift()!;
      next.resolve(this.free.splice(0, next.count));
    }
  }

  /** Refuses every later acquire and every waiter with `error`; slots already handed out stay with their holders. */
  close(error: Error = new PoolClosedError("the pool is closed")): void {
    this.closed = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** Resolves once no slot is held. */
  idle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs `task` with a slot and always gives the slot back. */
  async with<R>(signal: AbortSignal | undefined, task: (slot: T) => Promise<R>): Promise<R> {
    const slot = await this.acquire(signal);
    try {
      return await task(slot);
    } finally {
      this.release(slot);
    }
  }
}
