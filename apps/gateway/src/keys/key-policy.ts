/** What a key may do. 0 means unlimited for every number except `maxTokens`. */
export interface KeyPolicy {
  /** Public model names the key may use; `"*"` for every served model. */
  models: readonly string[] | "*";
  requestsPerMinute: number;
  /** Prompt + completion tokens per minute, counted from the usage inference reports (streamed usage included). */
  tokensPerMinute: number;
  /** Open streaming responses at once. */
  concurrentStreams: number;
  /**
   * Requests in flight at once, JSON and streams alike (a stream counts here and in `concurrentStreams`): what one
   * principal may have waiting on inference, so that its backlog is its own 429 rather than a full queue for all.
   */
  concurrentRequests: number;
  /** Cap for `max_tokens` / `max_completion_tokens`; filled in when a request sets neither. */
  maxTokens: number;
  /** Most choices (`n`) per request; a larger `n` is a 400. */
  maxChoices: number;
  /** The key may mint short-lived sign-in tokens (POST /v1/auth/tokens). Absent: no. */
  mintTokens?: boolean;
}

/** A key as the gateway keeps it: never the key itself, only its SHA-256 digest. */
export interface ApiKeyRecord {
  /** Non-secret id for logs, metrics and quota buckets: the file's `id`, or the first 12 hex digits of the digest. */
  id: string;
  /** Lowercase hex SHA-256 of the key. */
  digest: string;
  policy: KeyPolicy;
}

export function allowsModel(policy: KeyPolicy, model: string): boolean {
  return policy.models === "*" || policy.models.includes(model);
}
