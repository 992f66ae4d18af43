import type { Logger } from "../logger.ts";
import type { GatewayMetrics } from "../metrics/metrics.ts";
import { buildKeyRecords, buildPolicies, readKeyFile, type KeyEntry, type NamedPolicy } from "./key-file.ts";
import type { KeyPolicy } from "./key-policy.ts";
import type { Keyring } from "./keyring.ts";

/**
 * Fills the keyring from GATEWAY_API_KEYS and the key file, and refills it on demand (SIGHUP, a file change): rotation
 * without a restart. A reload that fails (bad JSON, a duplicate key) keeps the keys in force and says why.
 */

export interface KeyLoaderOptions {
  /** GATEWAY_API_KEYS entries (plain or `sha256:`), with the default policy. */
  envKeys: readonly string[];
  /** Reads the key file; absent when there is none. */
  readFile?: () => Promise<string>;
  defaults: KeyPolicy;
  keyring: Keyring;
  logger: Logger;
  metrics?: GatewayMetrics;
  /** Coalesces bursts of file events (editors write several times). Default 100 ms. */
  debounceMs?: number;
}

export interface KeyLoader {
  /** Loads keys now; throws (KeyFileError, or the read error) without touching the keyring. Returns the key count. */
  load(): Promise<number>;
  /** Like load, but logs and keeps the current keys on failure. */
  reload(reason: string): Promise<boolean>;
  /** reload() after the debounce delay; repeated calls within it coalesce. */
  reloadSoon(reason: string): void;
}

export function createKeyLoader(options: KeyLoaderOptions): KeyLoader {
  const { keyring, logger } = options;
  const debounceMs = options.debounceMs ?? 100;
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function load(): Promise<number> {
    const entries: KeyEntry[] = options.envKeys.map((key) => ({ key }));
    let named: Record<string, NamedPolicy> = {};
    if (options.readFile) {
      const file = readKeyFile(await options.readFile());
      entries.push(...file.keys);
      named = file.policies;
    }
    const policies = buildPolicies(named, options.defaults);
    const records = await buildKeyRecords(entries, options.defaults, policies);
    keyring.replace(records, policies);
    return records.length;
  }

  async function reload(reason: string): Promise<boolean> {
    try {
      const keys = await load();
      logger.info("keys reloaded", { reason, keys });
      options.metrics?.keysReloaded(true);
      return true;
    } catch (err) {
      // KeyFileError messages name paths, never values; a read error names the file at most.
      logger.error("keys not reloaded: keeping the current keys", { reason, err, keys: keyring.size });
      options.metrics?.keysReloaded(false);
      return false;
    }
  }

  return {
    load,
    reload,
    reloadSoon(reason) {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        void reload(reason);
      }, debounceMs);
    },
  };
}
