/** How often and how long to retry the Hub (HUB_RETRIES, HUB_RETRY_BASE_MS, HUB_RETRY_MAX_WAIT_MS). */
export interface RetrySettings {
  /** Retries after the first attempt; 0 disables retrying. */
  retries: number;
  /** First backoff delay; doubled at each retry. */
  baseDelayMs: number;
  /**
   * Longest time one request may spend waiting between its retries, in total, the waits a 429's `RateLimit` (or
   * `Retry-After`) asks for included: a server asking for longer is not waited for.
   */
  maxWaitMs: number;
}

export const DEFAULT_RETRY: RetrySettings = { retries: 4, baseDelayMs: 250, maxWaitMs: 30_000 };

/** HF_HUB_DOWNLOAD_TIMEOUT's default, as in the Python client: 10 s of silence and a request is given up (and retried or resumed). */
export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The wait before retry number `attempt` (0-based): exponential backoff with "equal jitter" (half fixed, half random,
 * so concurrent clients spread out), capped at maxWaitMs. Hand-written rather than p-retry/exponential-backoff
 * because the wait must give way to the server's Retry-After, which those libraries cannot express per attempt.
 */
export function backoffDelay(attempt: number, settings: RetrySettings, random: () => number = Math.random): number {
  const exponential = Math.min(settings.maxWaitMs, settings.baseDelayMs * 2 ** attempt);
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
