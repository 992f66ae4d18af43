import { expectationMessage, SafeError } from "@slm/config";
import * as v from "valibot";
import { keyDigest, SHA256_PREFIX } from "./api-key.ts";
import type { ApiKeyRecord, KeyPolicy } from "./key-policy.ts";

/**
 * The key file (`GATEWAY_KEYS_FILE`), JSON:
 *
 *   { "keys": [ { "id": "web-app", "key": "sha256:<64 hex>", "models": ["tiny-chat"], "requestsPerMinute": 60,
 *                 "tokensPerMinute": 20000, "concurrentStreams": 2, "maxTokens": 256, "maxChoices": 2 },
 *               { "key": "sk-a-plain-key-that-is-hashed-at-load" } ] }
 *
 * `key` is either a plain key (hashed when loaded, never kept) or `sha256:` + its hex digest. Every policy field is
 * optional and falls back to the environment's default policy. Problems are reported by path, never by value.
 */

const count = (what: string) => v.optional(v.pipe(v.number(), v.integer(what), v.minValue(0, what)));

const KeyEntry = v.strictObject({
  id: v.optional(v.pipe(v.string(), v.regex(/^[\w.-]{1,64}$/, "1-64 of [A-Za-z0-9_.-]"))),
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
  maxTokens: v.optional(v.pipe(v.number(), v.integer("an integer >= 1"), v.minValue(1, "an integer >= 1"))),
  maxChoices: count("an integer >= 0"),
});
export type KeyEntry = v.InferOutput<typeof KeyEntry>;

const KeyFile = v.strictObject({ keys: v.array(KeyEntry) });

export class KeyFileError extends SafeError {
  override readonly name = "KeyFileError";
  readonly code = "key_file_invalid";
  constructor(readonly problems: readonly string[]) {
    super(`key file: ${problems.join("; ")}`);
  }
}

/** Parses and validates the key file's text. */
export function parseKeyFile(text: string): KeyEntry[] {
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
  return result.output.keys;
}

/**
 * Key records from entries (file) and plain specs (GATEWAY_API_KEYS, default policy), hashed. Ids and keys must be
 * unique across both.
 */
export async function buildKeyRecords(entries: readonly KeyEntry[], defaults: KeyPolicy): Promise<ApiKeyRecord[]> {
  const records: ApiKeyRecord[] = [];
  const ids = new Set<string>();
  const digests = new Set<string>();
  const problems: string[] = [];
  for (const [index, entry] of entries.entries()) {
    const digest = await keyDigest(entry.key);
    const id = entry.id ?? digest.slice(0, 12);
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
        maxTokens: entry.maxTokens ?? defaults.maxTokens,
        maxChoices: entry.maxChoices ?? defaults.maxChoices,
      },
    });
  }
  if (problems.length > 0) throw new KeyFileError(problems);
  return records;
}
