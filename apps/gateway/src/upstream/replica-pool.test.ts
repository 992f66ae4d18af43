import { describe, expect, it } from "vitest";
import { createReplicaPool } from "./replica-pool.ts";
import { noMetrics } from "../metrics/metrics.ts";

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
