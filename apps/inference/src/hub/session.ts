import { readFile } from "node:fs/promises";
import { HF_TOKEN_PATTERN, type HubSettings, type InferenceConfig } from "@slm/config";
import { TokenFileError, type HubError } from "./errors.ts";
import { DEFAULT_RETRY, DEFAULT_TIMEOUT_MS, type RetrySettings } from "./remote/retry-policy.ts";

/**
 * Something model resolution wants logged (a retry, a resume, a floating revision, the lockfile in force).
 * Fields never hold a URL or a token; main.ts passes them to the logger as they are.
 */
export interface SupplyChainEvent {
  level: "debug" | "info" | "warn";
  msg: string;
  fields: Record<string, unknown>;
}

export type EventSink = (event: SupplyChainEvent) => void;

export interface DownloadProgress {
  downloadedBytes: number;
  totalBytes: number;
}

/** What the caller of a resolution hears, and the fetch it may substitute (tests, benchmarks). */
export interface HubHooks {
  /** The fetch under the Hub client (default: the global one); the Hub fetch wraps it with typed errors and retries. */
  fetch?: typeof fetch;
  onProgress?: (progress: DownloadProgress) => void;
  /** Told when the Hub could not be asked and the cached commit is used instead. */
  onFallback?: (reason: HubError) => void;
  /** Retries, resumes, a floating revision, the lockfile in force: lines worth logging at `event.level`. */
  onEvent?: EventSink;
}

/**
 * What every resolution of one run shares: where the Hub and the cache are, the token, the supply-chain settings
 * and the hooks. Each flow takes `{ session, ...what is specific to it }`; lower layers take the part they use.
 */
export interface HubSession extends HubHooks {
  /** HF_ENDPOINT: the Hub origin, the only one that ever receives the token. */
  readonly hubUrl: string;
  /** The Hub cache (Python client layout). */
  readonly cacheDir: string;
  readonly accessToken: string | undefined;
  /** HF_HUB_OFFLINE: the Hub is never asked, the cache answers. */
  readonly offline: boolean;
  /** NODE_ENV=production: a branch is refused unless allowFloatingRevision or a lock pins it. */
  readonly production: boolean;
  /** MODEL_ALLOW_FLOATING_REVISION */
  readonly allowFloatingRevision: boolean;
  /** MODEL_REVERIFY: rehash cached blobs even when their verified marker matches. */
  readonly reverify: boolean;
  readonly retry: RetrySettings;
  /**
   * HF_HUB_DOWNLOAD_TIMEOUT, in ms: how long a Hub request may stay silent (no headers, no next chunk) before it is
   * retried, and a download resumed from where it stopped.
   */
  readonly downloadTimeoutMs: number;
  /** MODEL_LICENSES_ALLOWED (lower-cased ids); empty allows any. */
  readonly licensesAllowed: readonly string[];
}

export type HubSessionOptions = Pick<HubSession, "hubUrl" | "cacheDir"> & Partial<HubSession>;

/** A session from explicit options; what is left out is off (online, not production, no token, default retries). */
export function createHubSession(options: HubSessionOptions): HubSession {
  return {
    ...options,
    accessToken: options.accessToken,
    offline: options.offline ?? false,
    production: options.production ?? false,
    allowFloatingRevision: options.allowFloatingRevision ?? false,
    reverify: options.reverify ?? false,
    retry: options.retry ?? DEFAULT_RETRY,
    downloadTimeoutMs: options.downloadTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    licensesAllowed: options.licensesAllowed ?? [],
  };
}

/** The session the configuration describes; reads the token (see readToken). */
export async function hubSessionFromConfig(config: InferenceConfig, hooks: HubHooks = {}): Promise<HubSession> {
  const { hub, supplyChain } = config;
  return createHubSession({
    hubUrl: hub.endpoint,
    cacheDir: hub.cacheDir,
    accessToken: await readToken(hub),
    offline: hub.offline,
    production: config.production,
    allowFloatingRevision: supplyChain.allowFloatingRevision,
    reverify: supplyChain.reverify,
    retry: supplyChain.retry,
    downloadTimeoutMs: hub.downloadTimeoutMs,
    licensesAllowed: supplyChain.licensesAllowed,
    ...hooks,
  });
}

/**
 * The Hub token, in the Python client's order: HF_TOKEN, HUGGING_FACE_HUB_TOKEN (both read by the env schema),
 * then the token file (`HF_TOKEN_PATH` or `$HF_HOME/token`). A missing file means no token.
 */
export async function readToken(hub: HubSettings): Promise<string | undefined> {
  if (hub.token) return hub.token;
  let text: string;
  try {
    text = (await readFile(hub.tokenPath, "utf8")).trim();
  } catch {
    return undefined;
  }
  if (text === "") return undefined;
  if (!HF_TOKEN_PATTERN.test(text)) throw new TokenFileError(hub.tokenPath);
  return text;
}
