import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withBlobLock } from "./blob-lock.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "blob-lock-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("withBlobLock", () => {
  it("lets one holder work at a time; the other is told it waits, then runs, and the lock is gone after", async () => {
    const lockPath = join(dir, ".locks", "models--a--b", "e.slm-download.lock");
    const order: string[] = [];
    let waited = 0;
    const first = withBlobLock({ lockPath }, async () => {
      order.push("first start");
      await new Promise((r) => setTimeout(r, 300));
      order.push("first end");
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = withBlobLock({ lockPath, onWait: () => waited++ }, async () => {
      order.push("second");
    });
    await Promise.all([first, second]);
    expect(order).toEqual(["first start", "first end", "second"]);
    expect(waited).toBe(1);
    expect(existsSync(lockPath)).toBe(false);
  });

  it("takes over a lock whose owner died (not refreshed for longer than staleMs)", async () => {
    const lockPath = join(dir, "e.slm-download.lock");
    await mkdir(lockPath);
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath, old, old);
    let waited = false;
    const ran = await withBlobLock({ lockPath, staleMs: 5_000, onWait: () => (waited = true) }, async () => "ran");
    expect(ran).toBe("ran");
    expect(waited).toBe(false);
    expect(existsSync(lockPath)).toBe(false);
  });
});
