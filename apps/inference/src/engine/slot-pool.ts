/**
 * A fixed set of slots (context sequences) handed out one request at a time, with a bounded FIFO of waiters.
 * node-llama-cpp's `getSequence()` throws when all are taken and two generations on one sequence corrupt each other
 * silently, so every generation borrows a slot here and gives it back when done.
 */
export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
  constructor(readonly queued: number) {
    super("all slots are busy and the wait queue is full");
  }
}

export interface SlotPoolOptions<T> {
  slots: readonly T[];
  maxQueue: number;
}

interface Waiter<T> {
  resolve: (slot: T) => void;
  reject: (reason: unknown) => void;
}

export class SlotPool<T> {
  private readonly free: T[];
  private readonly waiters: Waiter<T>[] = [];
  readonly size: number;
  readonly maxQueue: number;

  constructor(options: SlotPoolOptions<T>) {
    this.free = [...options.slots];
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
  acquire(signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    if (this.waiters.length >= this.maxQueue) return Promise.reject(new QueueFullError(this.waiters.length));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
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
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(slot: T): void {
    const next = this.waiters.shift();
    if (next) next.resolve(slot);
    else this.free.push(slot);
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
