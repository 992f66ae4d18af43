import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CacheEntry } from "./entry.ts";

export interface DiskTierOptions {
  /** PROMPT_CACHE_DIR: one folder per namespace, two files per entry (`<key>.tokens`, `<key>.state`). */
  dir: string;
  maxBytes: number;
  /** An entry's files were deleted to stay within `maxBytes`. */
  onEvict(entry: CacheEntry): void;
  onError(error: unknown): void;
}

/**
 * The prompt cache's disk tier: every saved state is also written to a directory (after the request that saved it,
 * never on its path), so the cache outlives a restart and holds more than RAM does. Each file is written under a
 * temporary name and renamed, so a crash never leaves a half-written state behind a valid name; the tokens sit in a
 * file of their own, so a restart indexes the directory without reading any state. Least recently used out first.
 */
export class DiskTier {
  private readonly index = new Map<string, CacheEntry>();
  private readonly pending = new Map<string, Promise<void>>();
  private total = 0;

  constructor(private readonly options: DiskTierOptions) {}

  get bytes(): number {
    return this.total;
  }

  get entries(): number {
    return this.index.size;
  }

  holds(entry: CacheEntry): boolean {
    return this.index.has(entry.key) || this.pending.has(entry.key);
  }

  write(entry: CacheEntry, bytes: Buffer): void {
    if (entry.size > this.options.maxBytes || this.holds(entry)) return;
    const folder = join(this.options.dir, entry.namespace);
    const state = join(folder, `${entry.key}.state`);
    const tokens = join(folder, `${entry.key}.tokens`);
    const temporary = `.${process.pid}.tmp`;
    const task = (async () => {
      await mkdir(folder, { recursive: true });
      await writeFile(state + temporary, bytes);
      await writeFile(
        tokens + temporary,
        new Uint8Array(entry.tokens.buffer, entry.tokens.byteOffset, entry.tokens.byteLength),
      );
      await rename(state + temporary, state);
      await rename(tokens + temporary, tokens);
      entry.diskPath = state;
      this.index.set(entry.key, entry);
      this.total += entry.size;
      await this.evict();
    })()
      .catch(async (error: unknown) => {
        await rm(state + temporary, { force: true }).catch(() => {});
        await rm(tokens + temporary, { force: true }).catch(() => {});
        this.options.onError(error);
      })
      .finally(() => this.pending.delete(entry.key));
    this.pending.set(entry.key, task);
  }

  touch(entry: CacheEntry): void {
    if (this.index.delete(entry.key)) this.index.set(entry.key, entry);
  }

  remove(entry: CacheEntry): void {
    const pending = this.pending.get(entry.key);
    void (pending ?? Promise.resolve()).then(async () => {
      if (!this.index.delete(entry.key)) return;
      this.total -= entry.size;
      entry.diskPath = undefined;
      await this.unlink(entry);
    });
  }

  /** The entries a directory holds for `namespace` (written before a restart), oldest first. */
  async scan(namespace: string): Promise<CacheEntry[]> {
    const folder = join(this.options.dir, namespace);
    const names = await readdir(folder).catch(() => [] as string[]);
    const found: { entry: CacheEntry; mtime: number }[] = [];
    for (const name of names) {
      if (!name.endsWith(".tokens")) continue;
      const key = name.slice(0, -".tokens".length);
      if (this.index.has(key)) continue;
      try {
        const state = join(folder, `${key}.state`);
        const info = await stat(state);
        const raw = await readFile(join(folder, name));
        const tokens = new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
        found.push({
          entry: { key, namespace, tokens, size: info.size, bytes: undefined, diskPath: state },
          mtime: info.mtimeMs,
        });
      } catch {
        // A half-deleted entry: skipped.
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const { entry } of found) {
      this.index.set(entry.key, entry);
      this.total += entry.size;
    }
    await this.evict();
    return found.map((f) => f.entry).filter((e) => this.index.has(e.key));
  }

  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending.values());
  }

  private async evict(): Promise<void> {
    for (const entry of this.index.values()) {
      if (this.total <= this.options.maxBytes) break;
      this.index.delete(entry.key);
      this.total -= entry.size;
      this.options.onEvict(entry);
      await this.unlink(entry);
    }
  }

  private async unlink(entry: CacheEntry): Promise<void> {
    const folder = join(this.options.dir, entry.namespace);
    await rm(join(folder, `${entry.key}.tokens`), { force: true }).catch(() => {});
    await rm(join(folder, `${entry.key}.state`), { force: true }).catch(() => {});
  }
}
