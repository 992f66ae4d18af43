/**
 * Stored responses (OpenAI's Responses API with `store`): what the gateway keeps of a response so that a later request
 * may continue it (`previous_response_id`) or refer to its items (`item_reference`), and the routes that read and
 * delete them. Inference stays stateless: it always gets the whole conversation. In memory per process, or in Redis
 * for every gateway (REDIS_URL); each response is its owner's (the key or user that made it, see owner.ts).
 */

import type { MiddlewareHandler } from "hono";
import type { Logger } from "../logger.ts";
import type { GatewayEnv } from "../types.ts";
import { createResponse } from "./create-response.ts";
import { createMemoryResponseStore } from "./memory-store.ts";
import { readRoutes, type ReadRoutes } from "./read-routes.ts";
import type { ResponseStore } from "./store.ts";
import { createStoredResponses, type StoredResponses } from "./stored-responses.ts";

export { createMemoryResponseStore, type MemoryResponseStore } from "./memory-store.ts";
export { createRedisResponseStore, type RedisResponseStoreOptions } from "./redis-store.ts";
export { GatewayResponseRequest } from "./request-schema.ts";
export { ResponseStoreUnavailableError, type ResponseStore } from "./store.ts";

/** GATEWAY_RESPONSES_* defaults (packages/config's gateway-env.ts holds the same). */
export const RESPONSES_DEFAULTS = {
  /** 30 days, as OpenAI keeps them. */
  ttlSec: 30 * 24 * 3600,
  maxBytes: 2 << 20,
  maxChain: 100,
  memoryBytes: 64 << 20,
} as const;

export interface ResponsesOptions {
  /** Default: in memory, bounded by `memoryBytes`. */
  store?: ResponseStore | undefined;
  /** GATEWAY_RESPONSES_TTL_S; 0: nothing is stored. */
  ttlSec?: number;
  /** GATEWAY_RESPONSES_MAX_BYTES: a larger response is answered but not stored. */
  maxBytes?: number;
  /** GATEWAY_RESPONSES_MAX_CHAIN: responses a previous_response_id chain may hold. */
  maxChain?: number;
  /** GATEWAY_RESPONSES_MEMORY_BYTES: the in-memory store's bound. */
  memoryBytes?: number;
}

export interface Responses extends ReadRoutes {
  /** For POST /v1/responses, after shaping and before token admission. */
  create: MiddlewareHandler<GatewayEnv>;
  readonly stored: StoredResponses;
}

export function createResponses(options: ResponsesOptions & { logger?: Logger }): Responses {
  const ttlSec = options.ttlSec ?? RESPONSES_DEFAULTS.ttlSec;
  const store =
    options.store ?? createMemoryResponseStore({ maxBytes: options.memoryBytes ?? RESPONSES_DEFAULTS.memoryBytes });
  const stored = createStoredResponses({ store, ttlSec, maxBytes: options.maxBytes ?? RESPONSES_DEFAULTS.maxBytes });
  return {
    stored,
    create: createResponse({
      responses: stored,
      maxChain: options.maxChain ?? RESPONSES_DEFAULTS.maxChain,
      enabled: ttlSec > 0,
      logger: options.logger,
    }),
    ...readRoutes({ responses: stored }),
  };
}
