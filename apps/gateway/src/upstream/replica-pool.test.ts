import { describe, expect, it } from "vitest";
import { noMetrics } from "../metrics/metrics.ts";
import { createAffinityMemory, type AffinityMemory } from "./affinity-memory.ts";
import { createReplicaPool, rendezvous, type ReplicaPool } from "./replica-pool.ts";

describe("replica pool", () => {
  it("picks the replica with the fewest requests in flight, spreading ties", () => {
    const pool = createReplicaPool({ urls: ["http://a", "http://b", "http://c"] });
    const picked = [pool.acquire()!, pool.acquire()!, pool.acquire()!];
    expect(new Set(picked.map((r) => r.name)).size).toBe(3);
    pool.release(picked[1]!);
    expect(pool.acquire()!.name).toBe(picked[1]!.name);
  });

  it("sheds load at the in-flight cap and skips unhealthy replicas while a healthy one exists", () => {
    const pool = createReplicaPool({ urls: ["http://a", "http://b"], maxInflight: 1 });
    const [a, b] = pool.replicas;
    pool.setHealth(a!, false);
    expect(pool.acquire()).toBe(b);
    // The healthy replica is full: shed load rather than send it to the unhealthy one.
    expect(pool.acquire()).toBeUndefined();
    pool.release(b!);
    expect(pool.acquire()).toBe(b);
  });

  it("tries every replica when none is healthy, and an excluded one never", () => {
    const pool = createReplicaPool({ urls: ["http://a", "http://b"] });
    const [a, b] = pool.replicas;
    pool.setHealth(a!, false);
    pool.setHealth(b!, false);
    expect(pool.acquire(a)).toBe(b);
  });

  it("probes every replica, marks them, and reports the best status", async () => {
    const statuses: Record<string, number | null> = { "http://a": 503, "http://b": 200 };
    const transitions: string[] = [];
    const pool = createReplicaPool({
      urls: ["http://a", "http://b"],
      probe: async (r) => statuses[r.url] ?? null,
      metrics: { ...noMetrics, replicaUp: (name: string, up: boolean) => void transitions.push(`${name}:${up}`) },
    });
    expect(await pool.checkAll()).toBe(200);
    expect(pool.replicas.map((r) => r.healthy)).toEqual([false, true]);
    statuses["http://b"] = null;
    expect(await pool.checkAll()).toBe(503);
    expect(transitions).toEqual(["0:true", "1:true", "0:false", "1:false"]);
  });
});

describe("replica pool: conversation affinity", () => {
  const urls = ["http://a", "http://b", "http://c"];
  const keys = Array.from({ length: 600 }, (_, i) => `conversation-${i}`);
  const affine = (options: { spill?: number; memory?: AffinityMemory; maxInflight?: number; urls?: string[] } = {}) => {
    const outcomes: string[] = [];
    const pool = createReplicaPool({
      urls: options.urls ?? urls,
      maxInflight: options.maxInflight,
      affinity: { spill: options.spill, memory: options.memory ?? createAffinityMemory() },
      metrics: { ...noMetrics, affinity: (outcome) => void outcomes.push(outcome) },
    });
    return { pool, outcomes };
  };
  /** Where `key` goes, its slot given back at once (so that load plays no part). */
  const route = async (pool: ReplicaPool, key: string) => {
    const replica = (await pool.acquireFor(key))!;
    pool.release(replica);
    return replica.url;
  };

  it("sends a key to the same replica every time, on every pool (whatever the order of its URLs), and spreads keys", async () => {
    const one = affine().pool;
    const other = affine({ urls: [...urls].reverse() }).pool;
    const counts = new Map<string, number>();
    for (const key of keys) {
      const url = await route(one, key);
      expect(await route(one, key)).toBe(url);
      expect(await route(other, key)).toBe(url);
      counts.set(url, (counts.get(url) ?? 0) + 1);
    }
    // 600 keys over 3 replicas: about 200 each.
    expect([...counts.keys()].sort()).toEqual(urls);
    for (const n of counts.values()) expect(n).toBeGreaterThan(150);
  });

  it("moves only the keys of a replica that goes down, spread; those stay with their state when it returns", async () => {
    const { pool } = affine();
    const before = new Map<string, string>();
    for (const key of keys) before.set(key, await route(pool, key));
    pool.setHealth(pool.replicas[1]!, false);
    for (const key of keys) {
      const url = await route(pool, key);
      if (before.get(key) === "http://b") expect(url).not.toBe("http://b");
      else expect(url).toBe(before.get(key));
    }
    const moved = keys.filter((key) => before.get(key) === "http://b");
    expect(moved.length).toBeGreaterThan(150);
    // Each moved key to a replica of its own: b's keys spread over a and c.
    const movedTo = new Set(await Promise.all(moved.map((key) => route(pool, key))));
    expect([...movedTo].sort()).toEqual(["http://a", "http://c"]);
    pool.setHealth(pool.replicas[1]!, true);
    // Back up: the moved conversations stay where their state now is (remembered), the others never moved; a pool
    // without that memory sends b's keys home to b again.
    const afterwards = new Map<string, string>();
    for (const key of keys) afterwards.set(key, await route(pool, key));
    for (const key of keys) if (before.get(key) !== "http://b") expect(afterwards.get(key)).toBe(before.get(key));
    for (const key of moved) expect(afterwards.get(key)).not.toBe("http://b");
    const fresh = affine().pool;
    for (const key of moved) expect(await route(fresh, key)).toBe("http://b");
  });

  it("spills to the least-loaded replica when the key's replica is saturated, and the conversation follows", async () => {
    const { pool, outcomes } = affine({ spill: 2 });
    const key = keys[0]!;
    const home = (await pool.acquireFor(key))!;
    // One ahead of the others: still the key's replica.
    const second = (await pool.acquireFor(key))!;
    expect(second).toBe(home);
    // Two ahead of the least loaded: saturated, the request spills.
    const spilled = (await pool.acquireFor(key))!;
    expect(spilled).not.toBe(home);
    expect(outcomes).toEqual(["hit", "hit", "spill"]);
    for (const r of [home, second, spilled]) pool.release(r);
    // The next turn goes where the conversation's state now is, not back to its hashed replica.
    expect((await pool.acquireFor(key))!.url).toBe(spilled.url);
    expect(outcomes.at(-1)).toBe("hit");
  });

  it("spills when the key's replica is at its cap, and sheds load only when every healthy replica is", async () => {
    const { pool } = affine({ maxInflight: 1, spill: 100 });
    const key = keys[1]!;
    const taken = [(await pool.acquireFor(key))!, (await pool.acquireFor(key))!, (await pool.acquireFor(key))!];
    expect(new Set(taken).size).toBe(3);
    expect(await pool.acquireFor(key)).toBeUndefined();
  });

  it("decides health first: never the key's replica while it is down, all replicas when none is up", async () => {
    const { pool, outcomes } = affine();
    const key = keys[2]!;
    const home = (await pool.acquireFor(key))!;
    pool.release(home);
    pool.setHealth(home, false);
    const elsewhere = (await pool.acquireFor(key))!;
    expect(elsewhere).not.toBe(home);
    pool.release(elsewhere);
    // Its new replica refused it too (excluded, as forward.ts retries): a third one.
    const third = (await pool.acquireFor(key, elsewhere))!;
    expect([home, elsewhere]).not.toContain(third);
    pool.release(third);
    expect(outcomes).toEqual(["hit", "miss", "miss"]);
    for (const r of pool.replicas) pool.setHealth(r, false);
    expect(await pool.acquireFor(key)).toBeDefined();
    expect(await pool.acquireFor(key, pool.replicas[0])).not.toBe(pool.replicas[0]);
  });

  it("sends a Responses chain's second turn where its first went, and keeps the chain there", async () => {
    const { pool } = affine({ spill: 1 });
    // The first turn spilled: its state is off its home.
    const home = (await pool.acquireFor("first-turn"))!;
    const spilled = (await pool.acquireFor("first-turn"))!;
    expect(spilled).not.toBe(home);
    pool.release(home);
    pool.release(spilled);
    // The second turn has the chain's own key, not remembered yet: found through its origin.
    const second = (await pool.acquireFor({ key: "chain", origin: "first-turn" }))!;
    expect(second.url).toBe(spilled.url);
    pool.release(second);
    // Remembered under the chain's key: a later turn whose origin changed (other instructions) stays.
    expect((await pool.acquireFor({ key: "chain", origin: "other-instructions" }))!.url).toBe(spilled.url);
    // Without a spill, the origin's home is the chain's home.
    const { pool: fresh } = affine();
    const first = (await fresh.acquireFor("turn-one"))!;
    expect((await fresh.acquireFor({ key: "chain-2", origin: "turn-one" }))!).toBe(first);
  });

  it("uses no affinity without a key, with one replica, or when off", async () => {
    const { pool, outcomes } = affine();
    const picked = [(await pool.acquireFor(undefined))!, (await pool.acquireFor(undefined))!];
    expect(picked[0]).not.toBe(picked[1]); // least loaded
    expect(outcomes).toEqual([]);
    expect(affine({ urls: ["http://a"] }).pool.affine).toBe(false);
    expect(createReplicaPool({ urls }).affine).toBe(false);
  });
});

describe("rendezvous hashing", () => {
  it("picks the highest weight: stable under removal of other candidates", () => {
    const all = ["1", "2", "3", "4"].map((id) => ({ id }));
    for (let i = 0; i < 200; i++) {
      const winner = rendezvous(`k${i}`, all)!;
      const rest = all.filter((r) => r !== winner);
      const without = rest.filter((r) => r !== rest[0]);
      expect(rendezvous(`k${i}`, [...without, winner].reverse())).toBe(winner);
    }
    expect(rendezvous("k", [])).toBeUndefined();
  });
});
