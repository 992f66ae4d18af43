import { SafeError } from "@slm/config";

/**
 * Where stored responses live: text values under keys, each with its time to live. In memory (one process, bounded
 * by bytes: memory-store.ts) or in Redis (every gateway of a deployment: redis-store.ts). What the values mean, and
 * whose they are, is stored-responses.ts's business; a store only keeps text.
 */
export interface ResponseStore {
  readonly kind: "memory" | "redis";
  /** Sets every entry, each expiring `ttlSec` seconds from now. */
  set(entries: ReadonlyArray<readonly [key: string, value: string]>, ttlSec: number): Promise<void>;
  /** The value of each key, `undefined` for one that is missing or expired. */
  get(keys: readonly string[]): Promise<Array<string | undefined>>;
  /** Removes the keys; resolves to how many of them existed. */
  delete(keys: readonly string[]): Promise<number>;
}

/** The store could not be reached or refused a command (Redis down, a command past its deadline). */
export class ResponseStoreUnavailableError extends SafeError {
  override readonly name = "ResponseStoreUnavailableError";
  readonly code = "response_store_unavailable";
  constructor(options?: ErrorOptions) {
    super("the store of responses is unavailable", options);
  }
}

/** The UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: one code point of 4 bytes
      i++;
    } else bytes += 3;
  }
  return bytes;
}
