import { timingSafeEqualHex } from "./api-key.ts";
import type { ApiKeyRecord, KeyPolicy } from "./key-policy.ts";

/**
 * The current set of keys, swapped whole on reload. Lookup is by the SHA-256 digest of the presented key: a map
 * lookup's timing can at most tell an attacker something about the digest of their own guess, never about a stored
 * key (SHA-256 has no usable preimage), so it is safe where comparing plain keys would not be; the final comparison
 * is constant-time anyway. O(1), so thousands of keys cost what one does.
 */
export interface Keyring {
  find(digest: string): ApiKeyRecord | undefined;
  /** Swaps the keys, and the named policies of the key file (what a sign-in token's policy claim names) with them. */
  replace(records: readonly ApiKeyRecord[], policies?: ReadonlyMap<string, KeyPolicy>): void;
  /** A named policy of the key file. */
  policy(name: string): KeyPolicy | undefined;
  readonly size: number;
}

export function createKeyring(
  records: readonly ApiKeyRecord[] = [],
  policies: ReadonlyMap<string, KeyPolicy> = new Map(),
): Keyring {
  let byDigest = new Map<string, ApiKeyRecord>();
  let byName: ReadonlyMap<string, KeyPolicy> = new Map();
  const replace = (next: readonly ApiKeyRecord[], nextPolicies: ReadonlyMap<string, KeyPolicy> = new Map()) => {
    byDigest = new Map(next.map((r) => [r.digest, r]));
    byName = nextPolicies;
  };
  replace(records, policies);
  return {
    find(digest) {
      const record = byDigest.get(digest);
      return record !== undefined && timingSafeEqualHex(record.digest, digest) ? record : undefined;
    },
    replace,
    policy: (name) => byName.get(name),
    get size() {
      return byDigest.size;
    },
  };
}
