import { describe, expect, it } from "vitest";
import { QueueFullError, SlotPool } from "./slot-pool.ts";

describe("SlotPool", () => {
  it("hands each slot to one holder at a time and queues the rest in order", async () => {
    const pool = new SlotPool({ slots: ["a", "b"], maxQueue: 2 });
    const first = await pool.acquire();
    const second = await pool.acquire();
    expect(new Set([first, second])).toEqual(new Set(["a", "b"]));
    const order: string[] = [];
    const third = pool.acquire().then((s) => order.push(`third:${s}`));
    const fourth = pool.acquire().then((s) => order.push(`fourth:${s}`));
    expect(pool.queued).toBe(2);
    pool.release(first);
    pool.release(second);
    await Promise.all([third, fourth]);
    expect(order).toEqual([`third:${first}`, `fourth:${second}`]);
    expect(pool.busy).toBe(2);
  });

  it("refuses at once when the queue is full", async () => {
    const pool = new SlotPool({ slots: [1], maxQueue: 1 });
    await pool.acquire();
    void pool.acquire();
    const refused = pool.acquire();
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    // Safe to show, under the code of the 429 it becomes.
    await expect(refused).rejects.toMatchObject({
      code: "server_overloaded",
      message: "all slots are busy and the wait queue is full",
    });
  });

  it("drops an aborted waiter from the queue without losing the slot", async () => {
    const pool = new SlotPool({ slots: [1], maxQueue: 4 });
    const held = await pool.acquire();
    const abort = new AbortController();
    const waiting = pool.acquire(abort.signal);
    abort.abort(new Error("client left"));
    await expect(waiting).rejects.toThrow("client left");
    expect(pool.queued).toBe(0);
    pool.release(held);
    expect(pool.busy).toBe(0);
    await expect(pool.acquire()).resolves.toBe(1);
  });

  it("gives the slot back when the task throws", async () => {
    const pool = new SlotPool({ slots: [1], maxQueue: 0 });
    await expect(pool.with(undefined, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(pool.busy).toBe(0);
  });
});

describe("SlotPool shutdown", () => {
  it("refuses waiters and new acquires once closed, and reports when the last holder leaves", async () => {
    const pool = new SlotPool({ slots: ["a"], maxQueue: 4 });
    const held = await pool.acquire();
    const waiting = pool.acquire();
    let idle = false;
    void pool.idle().then(() => (idle = true));
    pool.close(new Error("shutting down"));
    await expect(waiting).rejects.toThrow("shutting down");
    await expect(pool.acquire()).rejects.toThrow("shutting down");
    await Promise.resolve();
    expect(idle).toBe(false);
    pool.release(held);
    await Promise.resolve();
    expect(idle).toBe(true);
  });
});

describe("SlotPool order", () => {
  it("always hands out the first free slot in the given order", async () => {
    const pool = new SlotPool({ slots: [0, 1, 2, 3], maxQueue: 0 });
    const taken = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    expect(taken).toEqual([0, 1, 2]);
    pool.release(1);
    pool.release(0);
    expect(await pool.acquire()).toBe(0);
    expect(await pool.acquire()).toBe(1);
    expect(await pool.acquire()).toBe(3);
  });
});

describe("SlotPool several slots at once (n choices)", () => {
  it("hands n slots together, first come first served, so partial holders never block each other", async () => {
    const pool = new SlotPool({ slots: [0, 1, 2], maxQueue: 4 });
    const one = await pool.acquire();
    const order: string[] = [];
    // Needs all three: waits, and the single request behind it waits its turn even though a slot is free.
    const three = pool.acquireMany(3).then((s) => order.push(`three:${s.join(",")}`));
    const single = pool.acquire().then((s) => order.push(`single:${s}`));
    await Promise.resolve();
    expect(pool.queued).toBe(2);
    expect(order).toEqual([]);
    pool.release(one);
    await three;
    expect(order).toEqual(["three:0,1,2"]);
    for (const slot of [0, 1, 2]) pool.release(slot);
    await single;
    expect(order).toEqual(["three:0,1,2", "single:0"]);
  });

  it("lets the next waiter through when the head one gives up", async () => {
    const pool = new SlotPool({ slots: [0, 1], maxQueue: 4 });
    await pool.acquire();
    const abort = new AbortController();
    const both = pool.acquireMany(2, abort.signal);
    const single = pool.acquire();
    abort.abort(new Error("client left"));
    await expect(both).rejects.toThrow("client left");
    await expect(single).resolves.toBe(1);
  });

  it("refuses more slots than it has", async () => {
    const pool = new SlotPool({ slots: [0, 1], maxQueue: 4 });
    await expect(pool.acquireMany(3)).rejects.toBeInstanceOf(RangeError);
  });
});

describe("SlotPool fairness between principals", () => {
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  /** Queues `count` single-slot requests of `principal`, each recording `principal#i:slot` in `order` when served. */
  function backlog(pool: SlotPool<number>, principal: string, count: number, order: string[]): Promise<unknown>[] {
    return Array.from({ length: count }, (_, i) =>
      pool.acquire(undefined, principal).then(
        (slot) => order.push(`${principal}#${i}:${slot}`),
        (error: unknown) =>
          order.push(`${principal}#${i}:${error instanceof QueueFullError ? `refused(${error.queued})` : "error"}`),
      ),
    );
  }

  it("hands the next free slot to a light principal ahead of a heavy principal's backlog", async () => {
    const pool = new SlotPool({ slots: [0, 1], maxQueue: 64 });
    const running = [await pool.acquire(undefined, "heavy"), await pool.acquire(undefined, "heavy")];
    const order: string[] = [];
    backlog(pool, "heavy", 10, order);
    backlog(pool, "light", 1, order);
    expect(pool.queued).toBe(11);
    pool.release(running[0]!);
    await settle();
    expect(order).toEqual(["light#0:0"]);
    // Then the heavy backlog, in its own order.
    pool.release(running[1]!);
    pool.release(0);
    await settle();
    expect(order).toEqual(["light#0:0", "heavy#0:1", "heavy#1:0"]);
  });

  it("shares the slots between backlogged principals instead of serving one backlog first", async () => {
    const pool = new SlotPool({ slots: [0, 1], maxQueue: 64 });
    const held = [await pool.acquire(undefined, "a"), await pool.acquire(undefined, "a")];
    const order: string[] = [];
    backlog(pool, "a", 4, order);
    backlog(pool, "b", 4, order);
    // b takes the first freed slot; from then on each holds one, and a freed slot goes back to whoever freed it.
    const served: string[] = [];
    for (let i = 0; i < 6; i++) {
      pool.release(held.shift()!);
      await settle();
      const last = order.at(-1)!;
      served.push(last.split("#")[0]!);
      held.push(Number(last.split(":")[1]));
    }
    expect(served).toEqual(["b", "a", "b", "a", "b", "a"]);
  });

  it("refuses a principal beyond its share of the queue while another principal is still queued", async () => {
    const pool = new SlotPool({ slots: [0], maxQueue: 8, maxQueuePerPrincipal: 3 });
    await pool.acquire(undefined, "heavy");
    const order: string[] = [];
    backlog(pool, "heavy", 4, order);
    backlog(pool, "light", 1, order);
    await settle();
    // The heavy principal's fourth is refused at once (3 of its own waiting); the light one still gets a place.
    expect(order).toEqual(["heavy#3:refused(3)"]);
    expect(pool.queued).toBe(4);
    pool.release(0);
    await settle();
    expect(order).toEqual(["heavy#3:refused(3)", "light#0:0"]);
  });

  it("gives a newcomer the place of the heaviest principal's newest waiter when the queue is full", async () => {
    const pool = new SlotPool({ slots: [0], maxQueue: 4 });
    await pool.acquire(undefined, "heavy");
    const order: string[] = [];
    backlog(pool, "heavy", 4, order);
    backlog(pool, "light", 3, order);
    await settle();
    // The heavy principal's last two were refused in the light principal's stead; at equal shares, the light
    // principal's third request is its own 429.
    expect(order).toEqual(["heavy#3:refused(3)", "heavy#2:refused(2)", "light#2:refused(2)"]);
    expect(pool.queued).toBe(4);
    pool.release(0);
    await settle();
    expect(order.at(-1)).toBe("light#0:0");
  });

  it("drops a cancelled waiter from its principal's line at once and serves the next principal", async () => {
    const pool = new SlotPool({ slots: [0], maxQueue: 8 });
    await pool.acquire(undefined, "a");
    const abort = new AbortController();
    const gone = pool.acquire(abort.signal, "b");
    const order: string[] = [];
    backlog(pool, "c", 1, order);
    abort.abort(new Error("client left"));
    await expect(gone).rejects.toThrow("client left");
    expect(pool.queued).toBe(1);
    pool.release(0);
    await settle();
    expect(order).toEqual(["c#0:0"]);
    expect(pool.queued).toBe(0);
  });

  it("keeps a waiter that needs several slots first in line for them, whoever arrives after it", async () => {
    const pool = new SlotPool({ slots: [0, 1], maxQueue: 8 });
    await pool.acquire(undefined, "c");
    const order: string[] = [];
    const both = pool.acquireMany(2, undefined, "a").then((s) => order.push(`a:${s.join(",")}`));
    const single = pool.acquire(undefined, "b").then((s) => order.push(`b:${s}`));
    await Promise.resolve();
    // One slot is free, but the two-slot waiter came first and holds nothing: the single one waits behind it.
    expect(order).toEqual([]);
    pool.release(0);
    await both;
    expect(order).toEqual(["a:0,1"]);
    pool.release(1);
    await single;
    expect(order).toEqual(["a:0,1", "b:1"]);
  });
});

describe("SlotPool slot choice by cached prefix (prefer)", () => {
  /** Fake slots: each holds evaluated tokens; the score is the prefix they share with the prompt. */
  const held: Record<string, string> = {};
  const prefix = (prompt: string) => (slot: string) => {
    const history = held[slot] ?? "";
    let i = 0;
    while (i < history.length && i < prompt.length && history[i] === prompt[i]) i++;
    return i;
  };

  it("gives a waiter the slot whose history its prompt extends, even when a lower slot is free", async () => {
    const pool = new SlotPool({ slots: ["a", "b", "c"], maxQueue: 4 });
    held["a"] = "SYS|alice:1";
    held["b"] = "SYS|bob:1";
    held["c"] = "";
    expect(await pool.acquire(undefined, undefined, prefix("SYS|bob:1|bob:2"))).toBe("b");
    expect(await pool.acquire(undefined, undefined, prefix("SYS|alice:1|alice:2"))).toBe("a");
  });

  it("serves waiters in the same order as without prefer; only the slot each gets changes", async () => {
    const pool = new SlotPool({ slots: ["a", "b"], maxQueue: 4 });
    held["a"] = "SYS|alice:1";
    held["b"] = "SYS|bob:1";
    const [a, b] = [await pool.acquire(), await pool.acquire()];
    const order: string[] = [];
    const first = pool.acquire(undefined, "p", prefix("SYS|bob:1|bob:2")).then((s) => order.push(`bob:${s}`));
    const second = pool.acquire(undefined, "q", prefix("SYS|alice:1|x")).then((s) => order.push(`alice:${s}`));
    pool.release(a);
    await first;
    // The first in line takes the only free slot, though it holds another's history.
    expect(order).toEqual(["bob:a"]);
    pool.release(b);
    await second;
    expect(order).toEqual(["bob:a", "alice:b"]);
  });

  it("sends ties and misses to the least recently used free slot, never the conversation just served", async () => {
    const pool = new SlotPool({ slots: ["a", "b", "c"], maxQueue: 4 });
    held["a"] = "SYS|alice:1";
    held["b"] = "SYS|bob:1";
    held["c"] = "SYS|carol:1";
    const slots = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    // Given back c, then a, then b: c is the least recently used.
    for (const slot of ["c", "a", "b"]) pool.release(slot);
    expect(slots).toHaveLength(3);
    // A new conversation shares only the system prompt with all three: the tie goes to c.
    expect(await pool.acquire(undefined, undefined, prefix("SYS|dave:1"))).toBe("c");
    // A miss everywhere: the least recently used of those left.
    expect(await pool.acquire(undefined, undefined, prefix("other"))).toBe("a");
  });

  it("takes the best `count` slots for n choices, best first", async () => {
    const pool = new SlotPool({ slots: ["a", "b", "c", "d"], maxQueue: 4 });
    held["a"] = "x";
    held["b"] = "SYS|bob";
    held["c"] = "SYS|bob:1|bob:2";
    held["d"] = "SYS";
    expect(await pool.acquireMany(2, undefined, undefined, prefix("SYS|bob:1|bob:2|bob:3"))).toEqual(["c", "b"]);
    expect(pool.busy).toBe(2);
    expect(await pool.acquireMany(2)).toEqual(["a", "d"]);
  });
});
