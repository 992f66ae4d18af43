import { timingSafeEqualHex } from "./api-key.ts";
import type { ApiKeyRecord } from "./key-policy.ts";

/**
 * The current set of keys, swapped whole on reload. Lookup is by the SHA-256 digest of the presented key: a map
 * lookup's timing can at most tell an attacker something about the digest of their own guess, never about a stored
 * key (SHA-256 has no usable preimage), so it is safe where comparing plain keys would not be; the final comparison
 * is constant-time anyway. O(1), so thousands of keys cost what one does.
 */
export interface Keyring {
  find(digest: string): ApiKeyRecord | undefined;
  replace(records: readonly ApiKeyRecord[]): void;
  readonly size: number;
}

export function createKeyring(records: readonly ApiKeyRecord[] = []): Keyring {
  let byDigest = new Map<string, ApiKeyRecord>();
  const replace = (next: readonly ApiKeyRecord[]) => {
    byDigest = new Map(next.map((r) => [r.digest, r]));
  };
  replace(records);
  return {
    find(digest) {
      const record = byDigest.get(digest);
      return record !== undefined && timingSafeEqualHex(record.digest, digest) ? record : undefined;
    },
    replace,
    get size() {
      return byDigest.size;
    },
  };
}
