import { silentLogger, type Logger } from "../logger.ts";

/**
 * Where each conversation was last served, once it left the replica its key hashes to (a spill, or its replica went
 * down): the replica pool asks it before hashing, so the next turn follows the conversation's state. Each entry lives
 * `ttlMs` from its last use. In process: a map bounded to `maxKeys` (least recently used out first). With a Redis
 * client (the gateway's own, REDIS_URL): in Redis as well, under `<prefix>:affinity:<key>` with the same TTL, so every
 * gateway of a deployment sends a conversation to one replica. Redis failing never fails a request: a lookup that
 * fails or takes longer than `timeoutMs` answers from the process's own map (else the pool hashes), a write that
 * fails is dropped; each change between working and failing is logged once.
 *
 * What is stored: the affinity key (a hash, affinity-key.ts) and the replica's id (a hash of its URL): never a prompt,
 * never an address.
 */

export interface AffinityMemory {
  /** The id of the replica `key` was last served by, if remembered. Never rejects. */
  recall(key: string): Promise<string | undefined>;
  /** Remembers that `key` was served by `replica` (an id). Returns at once; never throws. */
  remember(key: string, replica: string): void;
  /** True when shared through Redis. */
  readonly shared: boolean;
}

/** The part of an ioredis client the memory uses. */
export interface AffinityRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: "PX", ttlMs: number): Promise<unknown>;
}

export interface AffinityMemoryOptions {
  /** How long an entry lives after its last use. Default 10 minutes. */
  ttlMs?: number;
  /** Entries kept in process. Default 65,536. */
  maxKeys?: number;
  /** A connected ioredis client (the quota store's): shares the memory between gateways. */
  redis?: object | undefined;
  /** Key prefix in Redis (GATEWAY_REDIS_PREFIX). Default "slm-gateway". */
  prefix?: string;
  /** How long a Redis lookup may take before the local map answers. Default 250 ms. */
  timeoutMs?: number;
  logger?: Logger;
  now?: () => number;
}

export const DEFAULT_AFFINITY_TTL_MS = 600_000;
const DEFAULT_MAX_KEYS = 65_536;

export function createAffinityMemory(options: AffinityMemoryOptions = {}): AffinityMemory {
  const ttlMs = options.ttlMs ?? DEFAULT_AFFINITY_TTL_MS;
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const redis = options.redis as AffinityRedis | undefined;
  const prefix = `${options.prefix ?? "slm-gateway"}:affinity:`;
  const timeoutMs = options.timeoutMs ?? 250;
  const local = new Map<string, { replica: string; expiresAt: number }>();
  let redisUp = true;

  function recallLocal(key: string): string | undefined {
    const entry = local.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now()) {
      local.delete(key);
      return undefined;
    }
    return entry.replica;
  }

  function rememberLocal(key: string, replica: string): void {
    local.delete(key); // re-inserted last: the map's order is the order of use
    local.set(key, { replica, expiresAt: now() + ttlMs });
    if (local.size > maxKeys) local.delete(local.keys().next().value!);
  }

  function redisFailed(err: unknown): void {
    if (!redisUp) return;
    redisUp = false;
    logger.warn("affinity memory: redis unavailable, routing by this gateway's memory and hashing", { err });
  }

  function redisWorked(): void {
    if (redisUp) return;
    redisUp = true;
    logger.info("affinity memory: redis available again");
  }

  return {
    shared: redis !== undefined,
    async recall(key) {
      if (redis === undefined) return recallLocal(key);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const value = await Promise.race([
          redis.get(prefix + key),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("affinity lookup timed out")), timeoutMs);
          }),
        ]);
        redisWorked();
        return value ?? undefined;
      } catch (err) {
        redisFailed(err);
        return recallLocal(key);
      } finally {
        clearTimeout(timer);
      }
    },
    remember(key, replica) {
      rememberLocal(key, replica);
      if (redis === undefined) return;
      try {
        redis.set(prefix + key, replica, "PX", ttlMs).then(redisWorked, redisFailed);
      } catch (err) {
        redisFailed(err);
      }
    },
  };
}
