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
