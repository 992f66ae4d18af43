import { expectationMessage, SafeError } from "@slm/config";
import * as v from "valibot";
import { keyDigest, SHA256_PREFIX } from "./api-key.ts";
import type { ApiKeyRecord, KeyPolicy } from "./key-policy.ts";

/**
 * The key file (`GATEWAY_KEYS_FILE`), JSON:
 *
 *   { "keys": [ { "id": "web-app", "key": "sha256:<64 hex>", "models": ["tiny-chat"], "requestsPerMinute": 60,
 *                 "tokensPerMinute": 20000, "concurrentStreams": 2, "concurrentRequests": 4, "maxTokens": 256,
 *                 "maxChoices": 2 },
 *               { "key": "sk-a-plain-key-that-is-hashed-at-load" },
 *               { "id": "backend", "key": "sha256:<64 hex>", "policy": "pro", "mintTokens": true } ],
 *   "policies": { "free": { "requestsPerMinute": 20, "tokensPerMinute": 5000 }, "pro": { "tokensPerMinute": 100000 } } }
 *
 * `key` is either a plain key (hashed when loaded, never kept) or `sha256:` + its hex digest. Every policy field is
 * optional and falls back to the key's named `policy` when it has one, else to the environment's default policy.
 * `policies` names policies (each field falling back to the default policy): what a key's `policy` and a sign-in
 * token's policy claim (GATEWAY_JWT_POLICY_CLAIM) refer to. `mintTokens: true` lets a key mint sign-in tokens
 * (POST /v1/auth/tokens). Problems are reported by path, never by value.
 */

const count = (what: string) => v.optional(v.pipe(v.number(), v.integer(what), v.minValue(0, what)));

const NAME = /^[\w.-]{1,64}$/;
const KeyEntry = v.strictObject({
  id: v.optional(v.pipe(v.string(), v.regex(NAME, "1-64 of [A-Za-z0-9_.-]"))),
  /** A policy of `policies` whose fields this key's own ones override. */
  policy: v.optional(v.pipe(v.string(), v.regex(NAME, "1-64 of [A-Za-z0-9_.-]"))),
  mintTokens: v.optional(v.boolean("true or false")),
  key: v.pipe(
    v.string(),
    v.check(
      (k) =>
        k.slice(0, SHA256_PREFIX.length).toLowerCase() === SHA256_PREFIX
          ? /^[0-9a-f]{64}$/i.test(k.slice(SHA256_PREFIX.length))
          : k.length >= 16 && !/\s/.test(k),
      "a key of 16+ characters without spaces, or sha256: and 64 hex digits",
    ),
  ),
  models: v.optional(
    v.union(
      [v.literal("*"), v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(256)))],
      '"*" or a list of model names',
    ),
  ),
  requestsPerMinute: count("an integer >= 0"),
  tokensPerMinute: count("an integer >= 0"),
  concurrentStreams: count("an integer >= 0"),
  concurrentRequests: count("an integer >= 0"),
  maxTokens: v.optional(v.pipe(v.number(), v.integer("an integer >= 1"), v.minValue(1, "an integer >= 1"))),
  maxChoices: count("an integer >= 0"),
});
export type KeyEntry = v.InferOutput<typeof KeyEntry>;

/** A named policy: the policy fields of a key entry (all optional). */
const NamedPolicy = v.omit(KeyEntry, ["id", "key", "policy"]);
export type NamedPolicy = v.InferOutput<typeof NamedPolicy>;

const KeyFile = v.strictObject({
  keys: v.array(KeyEntry),
  policies: v.optional(v.record(v.pipe(v.string(), v.regex(NAME, "names of 1-64 of [A-Za-z0-9_.-]")), NamedPolicy)),
});

export class KeyFileError extends SafeError {
  override readonly name = "KeyFileError";
  readonly code = "key_file_invalid";
  constructor(readonly problems: readonly string[]) {
    super(`key file: ${problems.join("; ")}`);
  }
}

/** Parses and validates the key file's text: its keys. */
export function parseKeyFile(text: string): KeyEntry[] {
  return readKeyFile(text).keys;
}

/** Parses and validates the key file's text: its keys and its named policies. */
export function readKeyFile(text: string): { keys: KeyEntry[]; policies: Record<string, NamedPolicy> } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeyFileError(["not valid JSON"]);
  }
  const result = v.safeParse(KeyFile, json, { abortEarly: false, message: expectationMessage });
  if (!result.success) {
    throw new KeyFileError(result.issues.slice(0, 10).map((i) => `${v.getDotPath(i) ?? "(file)"}: ${i.message}`));
  }
  return { keys: result.output.keys, policies: result.output.policies ?? {} };
}

/** The named policies, each field absent falling back to `defaults`. */
export function buildPolicies(
  named: Readonly<Record<string, NamedPolicy>>,
  defaults: KeyPolicy,
): Map<string, KeyPolicy> {
  const policies = new Map<string, KeyPolicy>();
  for (const [name, fields] of Object.entries(named)) {
    const given = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
    policies.set(name, { ...defaults, ...given });
  }
  return policies;
}

/**
 * Key records from entries (file) and plain specs (GATEWAY_API_KEYS, default policy), hashed. Ids and keys must be
 * unique across both.
 */
export async function buildKeyRecords(
  entries: readonly KeyEntry[],
  defaultPolicy: KeyPolicy,
  policies: ReadonlyMap<string, KeyPolicy> = new Map(),
): Promise<ApiKeyRecord[]> {
  const records: ApiKeyRecord[] = [];
  const ids = new Set<string>();
  const digests = new Set<string>();
  const problems: string[] = [];
  for (const [index, entry] of entries.entries()) {
    const digest = await keyDigest(entry.key);
    const id = entry.id ?? digest.slice(0, 12);
    // The key's named policy, if any, is what its own fields fall back to.
    const defaults = entry.policy === undefined ? defaultPolicy : (policies.get(entry.policy) ?? defaultPolicy);
    if (entry.policy !== undefined && !policies.has(entry.policy))
      problems.push(`keys.${index}.policy: unknown policy`);
    if (digests.has(digest)) problems.push(`keys.${index}.key: duplicate key`);
    if (ids.has(id)) problems.push(`keys.${index}.id: duplicate id`);
    digests.add(digest);
    ids.add(id);
    records.push({
      id,
      digest,
      policy: {
        models: entry.models ?? defaults.models,
        requestsPerMinute: entry.requestsPerMinute ?? defaults.requestsPerMinute,
        tokensPerMinute: entry.tokensPerMinute ?? defaults.tokensPerMinute,
        concurrentStreams: entry.concurrentStreams ?? defaults.concurrentStreams,
        concurrentRequests: entry.concurrentRequests ?? defaults.concurrentRequests,
        maxTokens: entry.maxTokens ?? defaults.maxTokens,
        maxChoices: entry.maxChoices ?? defaults.maxChoices,
        mintTokens: entry.mintTokens ?? defaults.mintTokens,
      },
    });
  }
  if (problems.length > 0) throw new KeyFileError(problems);
  return records;
}
