import { describe, expect, it } from "vitest";
import { createLogger } from "../logger.ts";
import { noMetrics, type GatewayMetrics } from "../metrics/metrics.ts";
import { createQuotaStore, QuotaStoreUnavailableError, type Quota } from "./quota-store.ts";
import { releasedLeaseIsNeverRenewed, straddlingStreamKeepsItsSlot } from "../../test/support/stream-lease-scenario.ts";

const requests: Quota = { name: "requests", limit: 3, windowSec: 60 };

/** An ioredis look-alike that is never connected: rate-limiter-flexible refuses to use it (rejectIfRedisNotReady). */
const deadRedis = { status: "reconnecting", defineCommand() {} };

function recorder() {
  const events: string[] = [];
  const metrics: GatewayMetrics = {
    ...noMetrics,
    quotaStore: (e) => events.push(e),
    quotaStoreUp: (up) => events.push(up ? "up" : "down"),
  };
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line) });
  return { events, metrics, lines, logger };
}

describe("quota store (memory)", () => {
  it("stream leases: a stream straddling what used to be a window keeps its slot; no double release; expiry", async () => {
    await straddlingStreamKeepsItsSlot(createQuotaStore(), "k");
  });

  it("stream leases: a released or expired lease is never renewed back", async () => {
    await releasedLeaseIsNeverRenewed(createQuotaStore(), "k");
  });

  it("allows up to the limit per key, then refuses with the time to reset", async () => {
    const store = createQuotaStore();
    const states = [];
    for (let i = 0; i < 4; i++) states.push(await store.consume(requests, "a"));
    expect(states.map((s) => s.allowed)).toEqual([true, true, true, false]);
    expect(states.map((s) => s.remaining)).toEqual([2, 1, 0, 0]);
    expect(states[3]!.resetMs).toBeGreaterThan(58_000);
    expect((await store.consume(requests, "b")).allowed).toBe(true);
  });

  it("peeks without taking, counts added points, and gives points back", async () => {
    const store = createQuotaStore();
    const tokens: Quota = { name: "tokens", limit: 100, windowSec: 60 };
    expect(await store.peek(tokens, "k")).toMatchObject({ allowed: true, remaining: 100 });
    await store.add(tokens, "k", 60);
    expect(await store.peek(tokens, "k")).toMatchObject({ allowed: true, remaining: 40 });
    await store.add(tokens, "k", 50);
    expect(await store.peek(tokens, "k")).toMatchObject({ allowed: false, remaining: 0 });
    const streams: Quota = { name: "streams", limit: 1, windowSec: 60 };
    expect((await store.consume(streams, "k")).allowed).toBe(true);
    expect((await store.consume(streams, "k")).allowed).toBe(false);
    await store.release(streams, "k", 2);
    expect((await store.consume(streams, "k")).allowed).toBe(true);
  });
});

describe("token reservations", () => {
  it("take whole or nothing, never overshoot under concurrency, and see what was added or given back", async () => {
    const store = createQuotaStore();
    const tokens: Quota = { name: "tokens", limit: 300, windowSec: 60 };
    const states = await Promise.all(Array.from({ length: 40 }, () => store.reserve(tokens, "k", 120)));
    expect(states.filter((s) => s.allowed)).toHaveLength(2);
    expect(await store.peek(tokens, "k")).toMatchObject({ remaining: 60 });
    const refused = states.find((s) => !s.allowed)!;
    expect(refused.resetMs).toBeGreaterThan(58_000);
    expect(await store.reserve(tokens, "k", 61)).toMatchObject({ allowed: false, remaining: 60 });
    expect(await store.reserve(tokens, "k", 60)).toMatchObject({ allowed: true, remaining: 0 });
    await store.release(tokens, "k", 100);
    expect(await store.reserve(tokens, "k", 100)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await store.reserve(tokens, "other", 301)).toMatchObject({ allowed: false, remaining: 300 });
  });
});

describe("quota store with an unreachable Redis", () => {
  it("fails open: a local limiter enforces the quota, the failure is counted and logged once", async () => {
    const { events, metrics, lines, logger } = recorder();
    const store = createQuotaStore({ redis: deadRedis, failure: "open", metrics, logger });
    const allowed = [];
    for (let i = 0; i < 4; i++) allowed.push((await store.consume(requests, "a")).allowed);
    expect(allowed).toEqual([true, true, true, false]);
    expect(events.filter((e) => e === "fail_open")).toHaveLength(4);
    expect(events.filter((e) => e === "down")).toHaveLength(1);
    const logged = lines.map((l) => JSON.parse(l) as { level: string; msg: string; policy?: string });
    expect(logged.filter((l) => l.msg.startsWith("quota store unreachable"))).toEqual([
      expect.objectContaining({ level: "error", policy: "open" }),
    ]);
  });

  it("fails closed: every call is refused with QuotaStoreUnavailableError", async () => {
    const { events, metrics, logger } = recorder();
    const store = createQuotaStore({ redis: deadRedis, failure: "closed", metrics, logger });
    await expect(store.consume(requests, "a")).rejects.toBeInstanceOf(QuotaStoreUnavailableError);
    await expect(store.peek(requests, "a")).rejects.toMatchObject({ code: "quota_store_unavailable" });
    await expect(store.reserve(requests, "a", 1)).rejects.toMatchObject({ code: "quota_store_unavailable" });
    expect(events).toContain("fail_closed");
  });
});
