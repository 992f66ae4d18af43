import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { lock } from "proper-lockfile";

export interface BlobLockOptions {
  /** The lock's path (see layout.ts `lockPath`). */
  lockPath: string;
  /** Told once when another process holds the lock and this one starts waiting. */
  onWait?: () => void;
  /** A lock not refreshed for this long belongs to a dead process and is taken over. @default 10000 */
  staleMs?: number;
}

/** Waiting for another process's download: up to a day, polling at most every second. */
const WAIT = { retries: 86_400, factor: 1.5, minTimeout: 50, maxTimeout: 1_000 };

/**
 * Runs `work` holding a cross-process lock on one blob, so two processes starting on one cache download it once.
 * proper-lockfile creates the lock atomically (mkdir) and keeps its mtime fresh while held; a lock whose owner died
 * goes stale and is taken over. If the lock is lost anyway, `signal` aborts and the work should stop.
 */
export async function withBlobLock<T>(options: BlobLockOptions, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  await mkdir(dirname(options.lockPath), { recursive: true });
  const lost = new AbortController();
  const settings = {
    realpath: false,
    lockfilePath: options.lockPath,
    stale: options.staleMs ?? 10_000,
    onCompromised: (error: Error) => lost.abort(error),
  };
  let release: () => Promise<void>;
  try {
    release = await lock(options.lockPath, settings);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ELOCKED") throw error;
    options.onWait?.();
    release = await lock(options.lockPath, { ...settings, retries: WAIT });
  }
  try {
    return await work(lost.signal);
  } finally {
    await release().catch(() => {});
  }
}
