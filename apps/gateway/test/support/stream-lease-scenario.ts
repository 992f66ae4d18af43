import { expect } from "vitest";
import type { QuotaStore } from "../../src/quota/quota-store.ts";

/** Stream leases, as both stores must keep them: run on memory (quota-store.test.ts) and on Redis (redis-quota.test.ts). */
export async function straddlingStreamKeepsItsSlot(store: QuotaStore, key: string): Promise<void> {
  const ttlMs = 400;
  const first = await store.acquireLease("streams", key, 1, ttlMs);
  expect(first.allowed).toBe(true);
  // The first stream stays open past its lease period, renewed as streamSlots renews it: its slot stays taken.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, ttlMs / 2));
    await store.renewLease("streams", key, first.lease, ttlMs);
    expect((await store.acquireLease("streams", key, 1, ttlMs)).allowed).toBe(false);
  }
  await store.releaseLease("streams", key, first.lease);
  const second = await store.acquireLease("streams", key, 1, ttlMs);
  expect(second.allowed).toBe(true);
  // Releasing the first again frees nothing: the count never goes below what is held.
  await store.releaseLease("streams", key, first.lease);
  expect((await store.acquireLease("streams", key, 1, ttlMs)).allowed).toBe(false);
  // A holder that dies without releasing loses its lease by expiry.
  await new Promise((r) => setTimeout(r, ttlMs + 50));
  expect((await store.acquireLease("streams", key, 1, ttlMs)).allowed).toBe(true);
}

/**
 * A lease is renewed only while it is held: renewing one that was released, or that expired (its holder died or
 * stopped renewing), is refused and brings no slot back - so a renewal loop that outlives its stream frees nothing up
 * for others to lose, and stops.
 */
export async function releasedLeaseIsNeverRenewed(store: QuotaStore, key: string): Promise<void> {
  const ttlMs = 300;
  const held = await store.acquireLease("streams", key, 1, ttlMs);
  expect(await store.renewLease("streams", key, held.lease, ttlMs)).toBe(true);
  await store.releaseLease("streams", key, held.lease);
  expect(await store.renewLease("streams", key, held.lease, ttlMs)).toBe(false);
  const next = await store.acquireLease("streams", key, 1, ttlMs);
  expect(next.allowed).toBe(true);
  // Expired (nobody renewed it in time): refused, and its slot stays free for the next stream.
  await new Promise((r) => setTimeout(r, ttlMs + 50));
  expect(await store.renewLease("streams", key, next.lease, ttlMs)).toBe(false);
  expect((await store.acquireLease("streams", key, 1, ttlMs)).allowed).toBe(true);
  expect(await store.renewLease("streams", key, "never-taken", ttlMs)).toBe(false);
}
