import { utf8Length, type ResponseStore } from "./store.ts";

/**
 * The store of one process (no REDIS_URL): a Map in least-recently-used order, bounded by bytes (the UTF-8 length of
 * keys and values, plus a fixed overhead per entry). Setting past the bound evicts the least recently used entries
 * first; an entry that alone exceeds it is not kept. Expired entries are dropped when read or when they reach the
 * end of the line.
 */

export interface MemoryResponseStoreOptions {
  /** The bound, in bytes (GATEWAY_RESPONSES_MEMORY_BYTES). */
  maxBytes: number;
  /** The clock, in ms (tests). */
  now?: () => number;
}

interface Entry {
  value: string;
  bytes: number;
  expiresAt: number;
}

/** What an entry costs beyond its key and value (the Map slot, the entry object). */
const ENTRY_OVERHEAD = 64;

export interface MemoryResponseStore extends ResponseStore {
  /** Bytes held now. */
  readonly bytes: number;
  readonly size: number;
}

export function createMemoryResponseStore(options: MemoryResponseStoreOptions): MemoryResponseStore {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let bytes = 0;

  function remove(key: string): boolean {
    const entry = entries.get(key);
    if (entry === undefined) return false;
    entries.delete(key);
    bytes -= entry.bytes;
    return true;
  }

  function read(key: string): string | undefined {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now()) {
      remove(key);
      return undefined;
    }
    // Most recently used last.
    entries.delete(key);
    entries.set(key, entry);
    return entry.value;
  }

  return {
    kind: "memory",
    get bytes() {
      return bytes;
    },
    get size() {
      return entries.size;
    },
    async set(list, ttlSec) {
      const expiresAt = now() + ttlSec * 1000;
      for (const [key, value] of list) {
        remove(key);
        const size = utf8Length(key) + utf8Length(value) + ENTRY_OVERHEAD;
        if (size > options.maxBytes) continue;
        entries.set(key, { value, bytes: size, expiresAt });
        bytes += size;
      }
      // Least recently used first out (the Map's first keys), until it fits.
      for (const key of entries.keys()) {
        if (bytes <= options.maxBytes) break;
        remove(key);
      }
    },
    async get(keys) {
      return keys.map(read);
    },
    async delete(keys) {
      let removed = 0;
      for (const key of keys) {
        const live = read(key) !== undefined;
        if (remove(key) && live) removed++;
      }
      return removed;
    },
  };
}
