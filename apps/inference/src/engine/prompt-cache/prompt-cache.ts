import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { holdsPredictions } from "../share-prompt.ts";
import { DiskTier } from "./disk-tier.ts";
import { type CacheEntry, commonPrefix, entryKey } from "./entry.ts";

/**
 * The prompt cache's memory tier: the evaluated state (tokens + KV cache) of conversations that had to leave their
 * slot, kept in RAM and restored into whichever slot a later turn of the conversation gets, so that turn evaluates
 * only what is new. On a CPU a prompt's evaluation is what time to first token is made of; with more conversations
 * than slots, a slot is handed from one conversation to another at almost every turn, and without this tier each
 * turn re-evaluates its whole history. llama-server keeps a host-RAM cache of the same kind; vLLM and SGLang reuse
 * prefixes across all requests.
 *
 * Hand-written: node-llama-cpp saves and restores one sequence's state only to and from a file
 * (`saveStateToFile`/`loadStateFromFile`, llama.cpp's `llama_state_seq_save_file`); the state passes through a
 * scratch file in RAM (/dev/shm when there is one) and is kept as a Buffer. A state is only ever restored into a
 * context of the model it came from: entries are grouped by a namespace that names the model file's sha256, the
 * adapter set and the llama.cpp build (see `promptCacheNamespace`); a state of another model would crash llama.cpp.
 *
 * When a slot is about to be overwritten by a prompt that discards at least `minSaveTokens` of its history, that
 * history is saved (an entry). When a request's prompt shares at least `minGainTokens` more with an entry than with
 * its slot, the entry is restored into the slot (the tokens past the shared prefix are then trimmed by generate.ts).
 * An entry whose tokens are a prefix of a newer one is dropped (the conversation went on). `maxBytes` bounds the
 * RAM (least recently used first out); an optional directory (`DiskTier`) keeps every entry across restarts too.
 * Restored state is the state that was saved: greedy answers are the same as with a fresh evaluation (tested).
 */

export interface PromptCacheEvents {
  /** A prompt looked for more than its slot held: `restored` tokens came from the cache (0: a miss). */
  lookup(restored: number): void;
  saved(bytes: number): void;
  evicted(tier: "ram" | "disk"): void;
  /** A save, restore or disk write failed (the request goes on without the cache). */
  failed(operation: "save" | "restore" | "disk", error: unknown): void;
}

export interface PromptCacheOptions {
  /** RAM for saved states; 0 disables the cache. */
  maxBytes: number;
  /** A directory that keeps entries across restarts (optional). */
  dir?: string | undefined;
  /** Bound of the directory. Default 8 GiB. */
  maxDiskBytes?: number | undefined;
  /** Where states pass through on their way in and out of llama.cpp. Default: /dev/shm, else the temp directory. */
  scratchDir?: string | undefined;
  /**
   * History a slot must be about to discard for it to be saved. Default 4 tokens: a save and a restore cost a few
   * milliseconds, a token evaluated again 15-18 (a 0.5B Q4_K_M on one core: bench/conversations/short-prompt.ts).
   */
  minSaveTokens?: number;
  /** Tokens an entry must add to what the slot holds for a restore to be worth it. Default 4. */
  minGainTokens?: number;
  events?: Partial<PromptCacheEvents>;
}

export interface PromptCacheStats {
  ramBytes: number;
  ramEntries: number;
  diskBytes: number;
  diskEntries: number;
}

const GIB = 1024 ** 3;

export class PromptCache {
  readonly maxBytes: number;
  private readonly minSaveTokens: number;
  private readonly minGainTokens: number;
  private readonly scratchDir: string;
  private readonly events: Partial<PromptCacheEvents>;
  /** Every entry, RAM and disk, by namespace and key. */
  private readonly entries = new Map<string, Map<string, CacheEntry>>();
  /** Entries holding their state in RAM, least recently used first. */
  private readonly ram = new Map<string, CacheEntry>();
  private ramBytes = 0;
  private readonly disk: DiskTier | undefined;
  private readonly scanned = new Map<string, Promise<void>>();

  constructor(options: PromptCacheOptions) {
    this.maxBytes = Math.max(0, options.maxBytes);
    this.minSaveTokens = options.minSaveTokens ?? 4;
    this.minGainTokens = options.minGainTokens ?? 4;
    this.scratchDir = options.scratchDir ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
    this.events = options.events ?? {};
    this.disk = options.dir
      ? new DiskTier({
          dir: options.dir,
          maxBytes: options.maxDiskBytes ?? 8 * GIB,
          onEvict: (entry) => this.dropDisk(entry),
          onError: (error) => this.events.failed?.("disk", error),
        })
      : undefined;
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  stats(): PromptCacheStats {
    return {
      ramBytes: this.ramBytes,
      ramEntries: this.ram.size,
      diskBytes: this.disk?.bytes ?? 0,
      diskEntries: this.disk?.entries ?? 0,
    };
  }

  /** The cache as one context sees it (one model, one adapter set). */
  scope(namespace: string): PromptCacheScope {
    return new PromptCacheScope(this, namespace);
  }

  /** Reads the disk tier's entries of a namespace once (entries written before a restart). */
  loadNamespace(namespace: string): Promise<void> {
    let scan = this.scanned.get(namespace);
    if (scan === undefined) {
      scan = this.disk
        ? this.disk.scan(namespace).then((found) => {
            for (const entry of found) this.group(namespace).set(entry.key, entry);
          })
        : Promise.resolve();
      this.scanned.set(namespace, scan);
    }
    return scan;
  }

  /** The longest prefix of `prompt` an entry of `namespace` holds, and that entry. */
  longest(namespace: string, prompt: readonly Token[]): { entry: CacheEntry | undefined; length: number } {
    let best: CacheEntry | undefined;
    let length = 0;
    for (const entry of this.entries.get(namespace)?.values() ?? []) {
      const common = commonPrefix(entry.tokens, prompt);
      if (common > length) {
        best = entry;
        length = common;
      }
    }
    return { entry: best, length };
  }

  /** Saves the history `sequence` holds, when `prompt` would discard enough of it (see the class). */
  async keep(namespace: string, sequence: LlamaContextSequence, prompt: readonly Token[]): Promise<void> {
    if (!this.enabled) return;
    const held = sequence.nextTokenIndex;
    const common = sequence.compareContextTokens(prompt as Token[]).firstDifferentIndex;
    if (held - common < this.minSaveTokens || holdsPredictions(sequence)) return;
    const tokens = Uint32Array.from(sequence.contextTokens);
    const key = entryKey(tokens);
    const group = this.group(namespace);
    const existing = group.get(key);
    if (existing) {
      this.touch(existing);
      return;
    }
    const scratch = this.scratchPath();
    try {
      await sequence.saveStateToFile(scratch);
      const bytes = await readFile(scratch);
      const entry: CacheEntry = { key, namespace, tokens, size: bytes.length, bytes, diskPath: undefined };
      // Too big, or another slot holding the same tokens saved them while this one was saving.
      if (entry.size > this.maxBytes || group.has(key)) return;
      // The conversation went on: what it held before is a prefix of this and will not be asked for again.
      for (const other of [...group.values()])
        if (other.tokens.length < tokens.length && commonPrefix(other.tokens, tokens) === other.tokens.length)
          this.remove(other);
      group.set(key, entry);
      this.ram.set(key, entry);
      this.ramBytes += entry.size;
      this.events.saved?.(entry.size);
      this.disk?.write(entry, bytes);
      this.evictRam();
    } catch (error) {
      this.events.failed?.("save", error);
    } finally {
      await rm(scratch, { force: true });
    }
  }

  /**
   * Restores into `sequence` the entry holding the longest prefix of `prompt`, when it holds at least
   * `minGainTokens` more than the sequence does. Returns the prompt tokens the restored state covers (0: none).
   */
  async restore(namespace: string, sequence: LlamaContextSequence, prompt: readonly Token[]): Promise<number> {
    if (!this.enabled) return 0;
    const usable = prompt.length - 1;
    const held = Math.min(sequence.compareContextTokens(prompt as Token[]).firstDifferentIndex, usable);
    if (usable - held < this.minGainTokens) return 0;
    await this.loadNamespace(namespace);
    const { entry, length } = this.longest(namespace, prompt);
    const gain = Math.min(length, usable) - held;
    if (entry === undefined || gain < this.minGainTokens) {
      this.events.lookup?.(0);
      return 0;
    }
    let scratch: string | undefined;
    try {
      let path = entry.diskPath;
      if (entry.bytes) {
        scratch = this.scratchPath();
        await writeFile(scratch, entry.bytes);
        path = scratch;
      }
      if (path === undefined) return 0;
      await sequence.loadStateFromFile(path, { acceptRisk: true });
      this.touch(entry);
      const restored = Math.min(length, usable);
      this.events.lookup?.(restored);
      return restored;
    } catch (error) {
      // A state that cannot be read is dropped; the sequence starts empty and the prompt is evaluated in full.
      this.remove(entry);
      this.events.failed?.("restore", error);
      this.events.lookup?.(0);
      return 0;
    } finally {
      if (scratch) await rm(scratch, { force: true });
    }
  }

  /** Waits for the disk writes in flight (shutdown, tests). */
  async flush(): Promise<void> {
    await this.disk?.flush();
  }

  private group(namespace: string): Map<string, CacheEntry> {
    let group = this.entries.get(namespace);
    if (group === undefined) this.entries.set(namespace, (group = new Map()));
    return group;
  }

  private touch(entry: CacheEntry): void {
    if (entry.bytes && this.ram.delete(entry.key)) this.ram.set(entry.key, entry);
    this.disk?.touch(entry);
  }

  private remove(entry: CacheEntry): void {
    this.entries.get(entry.namespace)?.delete(entry.key);
    this.dropRam(entry);
    this.disk?.remove(entry);
  }

  private dropRam(entry: CacheEntry): void {
    if (entry.bytes && this.ram.delete(entry.key)) this.ramBytes -= entry.size;
    entry.bytes = undefined;
  }

  /** The disk tier let an entry go: it stays only if its state is still in RAM. */
  private dropDisk(entry: CacheEntry): void {
    entry.diskPath = undefined;
    if (!entry.bytes) this.entries.get(entry.namespace)?.delete(entry.key);
    this.events.evicted?.("disk");
  }

  private evictRam(): void {
    for (const entry of this.ram.values()) {
      if (this.ramBytes <= this.maxBytes) break;
      this.dropRam(entry);
      // Kept on disk when the disk tier has it (or is writing it); else gone.
      if (!this.disk?.holds(entry)) this.entries.get(entry.namespace)?.delete(entry.key);
      this.events.evicted?.("ram");
    }
  }

  private scratchPath(): string {
    return join(this.scratchDir, `slm-prompt-state-${process.pid}-${randomUUID()}.bin`);
  }
}

/** The cache bound to one context's namespace: what serve-generation uses. */
export class PromptCacheScope {
  constructor(
    readonly cache: PromptCache,
    readonly namespace: string,
  ) {}

  /** The longest prefix of `prompt` the cache holds (for the choice of slot). */
  longestPrefix(prompt: readonly Token[]): number {
    return this.cache.enabled ? this.cache.longest(this.namespace, prompt).length : 0;
  }

  /**
   * Before a generation on `sequences`: saves what each would discard, then restores into the first the entry that
   * holds most of the prompt. Returns the tokens restored.
   */
  async prepare(sequences: readonly LlamaContextSequence[], prompt: readonly Token[]): Promise<number> {
    if (!this.cache.enabled) return 0;
    for (const sequence of sequences) await this.cache.keep(this.namespace, sequence, prompt);
    return sequences[0] ? this.cache.restore(this.namespace, sequences[0], prompt) : 0;
  }
}
