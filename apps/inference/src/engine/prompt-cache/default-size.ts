import { freemem } from "node:os";

const GIB = 1024 ** 3;

/**
 * PROMPT_CACHE_BYTES when unset: a fifth of the memory free when the process starts (leaving the rest to the model,
 * its contexts and the system), at most 8 GiB. A 1,000-token conversation of a 0.5B model (Qwen2.5-0.5B: 24 layers,
 * 2 KV heads of 64, f16) holds about 12 MB, so even a small machine keeps hundreds.
 */
export function defaultPromptCacheBytes(free: number = freemem()): number {
  return Math.min(Math.floor(free / 5), 8 * GIB);
}
