import { SafeError } from "@slm/config";

/**
 * A fixed set of slots (context sequences) handed out one request at a time, with a bounded line of waiters.
 * node-llama-cpp's `getSequence()` throws when all are taken and two generations on one sequence corrupt each other
 * silently, so every generation borrows a slot here and gives it back when done.
 *
 * Which free slot a request gets: with `prefer` (a score; serve-generation's is the prompt prefix a slot holds
 * evaluated already, less the history of the slot the prompt would discard), the free slot that scores highest, so a
 * conversation's next turn lands where its history is and evaluates only what is new; among equal scores (a miss
 * included) the least recently used, so the conversation just served is the last to be overwritten; then the lowest
 * id. Prefix reuse comes first because on a CPU a prompt's evaluation is what time to first token is made of, far
 * more than the split pass llama.cpp may need when busy sequence ids are not consecutive (see step-gate.ts); the
 * lowest id is the last tie-break, for that batching. Without `prefer` (callers that hold nothing worth keeping) a
 * free slot is the first free one in the given order, keeping busy sequences packed at the low ids. The choice of
 * slot never changes which waiter is served next (below).
 *
 * The line is fair by principal (who the request is for: the gateway's key or user, `X-Slm-Principal`; one shared
 * principal when absent). Each principal's own waiters are first come, first served; a free slot goes to the waiting
 * principal that holds the fewest slots, then to the one served longest ago, so one principal's backlog never delays
 * another's request by more than the requests already running: a light caller's request takes the next free slot
 * ahead of a heavy caller's queue. The line's places are shared the same way: a principal may hold at most
 * `maxQueuePerPrincipal` of them, and when the line is full a newcomer whose principal waits with fewer requests takes
 * the place of the newest waiter of the principal waiting with the most, which is refused (429) in its stead. A heavy
 * caller's backlog is its own 429, never another caller's.
 */
export class QueueFullError extends SafeError {
  override readonly name = "QueueFullError";
  /** The code of the 429 it is answered with. */
  readonly code = "server_overloaded";
  /** `queued`: the waiters of the refused request's principal when it was refused. */
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

/** The principal of a request that names none (internal callers, tests): they share one line. */
export const SHARED_PRINCIPAL = "";

export interface SlotPoolOptions<T> {
  slots: readonly T[];
  /** Requests that may wait for slots, all principals together. */
  maxQueue: number;
  /** Of those, requests of one principal. Default: `maxQueue`. */
  maxQueuePerPrincipal?: number | undefined;
}

interface Waiter<T> {
  principal: string;
  /** Slots wanted at once (a request with `n` choices takes n). */
  count: number;
  /** Scores a free slot (higher is better; see the class). */
  prefer: ((slot: T) => number) | undefined;
  /** Arrival order, across principals. */
  arrival: number;
  resolve: (slots: T[]) => void;
  reject: (reason: unknown) => void;
}

export class SlotPool<T> {
  /** Free slots, in the given order. */
  private readonly free: T[];
  private readonly order: Map<T, number>;
  /** When each slot was last given back (a release counter); absent: never used. */
  private readonly releasedAt = new Map<T, number>();
  private releases = 0;
  /** Each waiting principal's own line, oldest first; a principal leaves the map with its last waiter. */
  private readonly lines = new Map<string, Waiter<T>[]>();
  private waiting = 0;
  private arrivals = 0;
  /** Who holds each handed-out slot, and how many each principal holds (only principals holding some). */
  private readonly holders = new Map<T, string>();
  private readonly held = new Map<string, number>();
  /** When each principal was last handed slots (a grant counter), kept while it waits or holds slots. */
  private readonly servedAt = new Map<string, number>();
  private grants = 0;
  private closed: Error | undefined;
  private idleWaiters: Array<() => void> = [];
  readonly size: number;
  readonly maxQueue: number;
  readonly maxQueuePerPrincipal: number;

  constructor(options: SlotPoolOptions<T>) {
    this.free = [...options.slots];
    this.order = new Map(options.slots.map((slot, i) => [slot, i]));
    this.size = options.slots.length;
    this.maxQueue = options.maxQueue;
    this.maxQueuePerPrincipal = Math.min(options.maxQueuePerPrincipal ?? options.maxQueue, options.maxQueue);
  }

  get busy(): number {
    return this.size - this.free.length;
  }

  get queued(): number {
    return this.waiting;
  }

  /** Waiters of one principal. */
  queuedFor(principal: string): number {
    return this.lines.get(principal)?.length ?? 0;
  }

  /** Resolves with a slot; waits in line if none is free; rejects at once if the line is full, or on abort. */
  async acquire(signal?: AbortSignal, principal: string = SHARED_PRINCIPAL, prefer?: (slot: T) => number): Promise<T> {
    return (await this.acquireMany(1, signal, principal, prefer))[0]!;
  }

  /**
   * Resolves with `count` slots (1 to `size`), taken together: a request waits in line until all are free, so two
   * requests holding part of what they need can never block each other. The waiter chosen next (see the class) is
   * served before anyone behind it, even when it needs more slots than are free yet. `prefer` scores the free slots
   * when they are handed over (see the class): the `count` best are taken, best first.
   */
  acquireMany(
    count: number,
    signal?: AbortSignal,
    principal: string = SHARED_PRINCIPAL,
    prefer?: (slot: T) => number,
  ): Promise<T[]> {
    signal?.throwIfAborted();
    if (this.closed) return Promise.reject(this.closed);
    if (count < 1 || count > this.size) return Promise.reject(new RangeError(`between 1 and ${this.size} slots`));
    if (this.waiting === 0 && this.free.length >= count) return Promise.resolve(this.grant(principal, count, prefer));
    return new Promise<T[]>((resolve, reject) => {
      const onAbort = () => {
        if (this.remove(waiter)) {
          reject(signal?.reason);
          // Whoever is chosen next may need fewer slots than are free.
          this.serveWaiters();
        }
      };
      const waiter: Waiter<T> = {
        principal,
        count,
        prefer,
        arrival: this.arrivals++,
        resolve: (slots) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(slots);
        },
        reject: (reason) => {
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.enqueue(waiter);
      // The newcomer may be the one chosen next, and its slots free.
      this.serveWaiters();
      if (this.queuedFor(principal) > this.maxQueuePerPrincipal) this.refuse(waiter);
      else if (this.waiting > this.maxQueue) this.makeRoom(waiter);
    });
  }

  release(slot: T): void {
    const principal = this.holders.get(slot);
    if (principal !== undefined) {
      this.holders.delete(slot);
      const left = (this.held.get(principal) ?? 1) - 1;
      if (left > 0) this.held.set(principal, left);
      else this.held.delete(principal);
      this.forgetIfGone(principal);
    }
    this.releasedAt.set(slot, ++this.releases);
    const rank = this.order.get(slot) ?? this.size;
    const at = this.free.findIndex((s) => (this.order.get(s) ?? this.size) > rank);
    this.free.splice(at < 0 ? this.free.length : at, 0, slot);
    this.serveWaiters();
    if (this.busy === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Refuses every later acquire and every waiter with `error`; slots already handed out stay with their holders. */
  close(error: Error = new PoolClosedError("the pool is closed")): void {
    this.closed = error;
    const waiters = [...this.lines.values()].flat().sort((a, b) => a.arrival - b.arrival);
    for (const waiter of waiters) {
      this.remove(waiter);
      waiter.reject(error);
    }
  }

  /** Resolves once no slot is held. */
  idle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs `task` with a slot and always gives the slot back. */
  async with<R>(signal: AbortSignal | undefined, task: (slot: T) => Promise<R>, principal?: string): Promise<R> {
    const slot = await this.acquire(signal, principal);
    try {
      return await task(slot);
    } finally {
      this.release(slot);
    }
  }

  /** Hands free slots to the waiter chosen next while its count is free; stops at the first that must wait. */
  private serveWaiters(): void {
    for (let next = this.next(); next && this.free.length >= next.count; next = this.next()) {
      this.remove(next);
      next.resolve(this.grant(next.principal, next.count, next.prefer));
    }
  }

  /**
   * The head of the line of the waiting principal that holds the fewest slots, then the one served longest ago,
   * then the earliest arrival.
   */
  private next(): Waiter<T> | undefined {
    let best: Waiter<T> | undefined;
    let bestKey: [number, number, number] | undefined;
    for (const [principal, line] of this.lines) {
      const head = line[0]!;
      const key: [number, number, number] = [
        this.held.get(principal) ?? 0,
        this.servedAt.get(principal) ?? 0,
        head.arrival,
      ];
      if (!bestKey || compare(key, bestKey) < 0) {
        best = head;
        bestKey = key;
      }
    }
    return best;
  }

  private grant(principal: string, count: number, prefer: ((slot: T) => number) | undefined): T[] {
    const slots = prefer ? this.takePreferred(count, prefer) : this.free.splice(0, count);
    for (const slot of slots) this.holders.set(slot, principal);
    this.held.set(principal, (this.held.get(principal) ?? 0) + count);
    this.servedAt.set(principal, ++this.grants);
    return slots;
  }

  /** The `count` free slots with the highest score, then least recently used, then lowest id; best first. */
  private takePreferred(count: number, prefer: (slot: T) => number): T[] {
    const ranked = this.free.map((slot, index) => ({ slot, index, score: prefer(slot) }));
    ranked.sort(
      (a, b) =>
        b.score - a.score ||
        (this.releasedAt.get(a.slot) ?? 0) - (this.releasedAt.get(b.slot) ?? 0) ||
        a.index - b.index,
    );
    const taken = ranked.slice(0, count);
    const gone = new Set(taken.map((t) => t.index));
    const kept = this.free.filter((_, index) => !gone.has(index));
    this.free.splice(0, this.free.length, ...kept);
    return taken.map((t) => t.slot);
  }

  private enqueue(waiter: Waiter<T>): void {
    const line = this.lines.get(waiter.principal);
    if (line) line.push(waiter);
    else {
      this.lines.set(waiter.principal, [waiter]);
      // New to the pool: as if served just before the latest grant, so it goes ahead of whoever got that one
      // (at equal holdings), never ahead of a principal that has waited since earlier grants.
      if (!this.servedAt.has(waiter.principal)) this.servedAt.set(waiter.principal, this.grants - 0.5);
    }
    this.waiting++;
  }

  /** Takes a waiter out of the line; false when it was not in it (served, refused or removed already). */
  private remove(waiter: Waiter<T>): boolean {
    const line = this.lines.get(waiter.principal);
    const index = line?.indexOf(waiter) ?? -1;
    if (!line || index < 0) return false;
    line.splice(index, 1);
    this.waiting--;
    if (line.length === 0) {
      this.lines.delete(waiter.principal);
      this.forgetIfGone(waiter.principal);
    }
    return true;
  }

  /** A principal neither waiting nor holding slots leaves no trace. */
  private forgetIfGone(principal: string): void {
    if (!this.lines.has(principal) && !this.held.has(principal)) this.servedAt.delete(principal);
  }

  private refuse(waiter: Waiter<T>): void {
    const queued = this.queuedFor(waiter.principal) - 1;
    this.remove(waiter);
    waiter.reject(new QueueFullError(queued));
  }

  /**
   * The line is one over its bound because of `newcomer`: the newest waiter of the principal with the longest line
   * leaves in its place when that principal would still wait with at least as many; else the newcomer is refused.
   */
  private makeRoom(newcomer: Waiter<T>): void {
    let longest: Waiter<T>[] | undefined;
    for (const line of this.lines.values()) if (!longest || line.length > longest.length) longest = line;
    const mine = this.queuedFor(newcomer.principal);
    if (longest && longest[0]!.principal !== newcomer.principal && longest.length - 1 >= mine) {
      this.refuse(longest.at(-1)!);
      this.serveWaiters();
    } else this.refuse(newcomer);
  }
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
