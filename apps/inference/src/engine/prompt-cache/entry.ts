import { createHash } from "node:crypto";

/** One saved conversation state: the tokens it holds evaluated, and where its state is (RAM, disk, or both). */
export interface CacheEntry {
  /** sha256 of the tokens (unique within a namespace). */
  readonly key: string;
  readonly namespace: string;
  readonly tokens: Uint32Array;
  /** Bytes of the state. */
  readonly size: number;
  /** The state, while it is in RAM. */
  bytes: Buffer | undefined;
  /** The state's file, once the disk tier holds it. */
  diskPath: string | undefined;
}

/** What a saved state belongs to: restoring it into any other context would be wrong, or crash llama.cpp. */
export interface NamespaceParts {
  /** sha256 of the model file. */
  modelSha256: string;
  /** The adapters applied to the context (their files' identity and scale); none for the base model. */
  adapters: readonly { id: string; scale: number }[];
  /** The llama.cpp build (a state file's layout may change between releases). */
  llamaBuild: string;
}

export function promptCacheNamespace(parts: NamespaceParts): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32);
}

export function entryKey(tokens: Uint32Array): string {
  return createHash("sha256")
    .update(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength))
    .digest("hex");
}

/** How many leading tokens `a` and `b` share. */
export function commonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
