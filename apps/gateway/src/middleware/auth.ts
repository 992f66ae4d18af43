import { ApiError } from "@slm/config";
import type { Context, MiddlewareHandler } from "hono";
import type { TokenAuth } from "../auth/index.ts";
import { sha256Hex } from "../keys/api-key.ts";
import type { KeyPolicy } from "../keys/key-policy.ts";
import type { Keyring } from "../keys/keyring.ts";
import type { Logger } from "../logger.ts";
import type { GatewayMetrics } from "../metrics/metrics.ts";
import type { Quota, QuotaStore } from "../quota/quota-store.ts";
import { tooManyRequests } from "../quota/rate-limit-fields.ts";
import { guarded } from "../quota/rate-limit.ts";
import type { HeaderReader } from "../runtime/runtime.ts";
import type { GatewayEnv, Principal } from "../types.ts";
import { addressBucket } from "./client-ip.ts";

/**
 * Bearer API keys, looked up by SHA-256 digest in the keyring (see keyring.ts for why that is timing-safe); the keys
 * themselves are never kept. Sets `principal`: the key with its policy, or - without a key, where allowed - the
 * client's address with the anonymous policy.
 *
 * - keys configured: a valid `Authorization: Bearer <key>` is required (with `allowAnonymous`, a request without any
 *   Authorization header is let through as anonymous, but a presented key must still be valid);
 * - no keys, `allowAnonymous`: no authentication at all (clients that always send some key keep working);
 * - no keys, not `allowAnonymous`: every request is refused (the runtime entries generate a key rather than start so).
 *
 * Failed attempts count against the client address's quota: past it, 429 instead of 401 (slows key guessing).
 *
 * With `tokens` (sign-in tokens: GATEWAY_JWT_* or GATEWAY_TOKEN_SECRET), a Bearer credential that is a JWT (three
 * dot-separated parts) is verified as one and signs in a user (`kind: "user"`, its own quotas); API keys keep working
 * beside it. A refused token is a 401 `invalid_token` and counts as a failed attempt; a JWKS that cannot be had is a
 * 503 and does not.
 */

export interface ApiKeyAuthOptions {
  keyring: Keyring;
  /** Resolves once the keyring is filled (when keys are hashed after the app is built). */
  ready?: Promise<unknown>;
  allowAnonymous: boolean;
  /** The policy of anonymous requests (quota per client address). */
  anonymousPolicy: KeyPolicy;
  clientIp: (c: Context<GatewayEnv>) => string;
  /** Failed authentications per client address and minute; absent or 0: not limited. */
  failures?: { store: QuotaStore; quota: Quota };
  /** Sign-in tokens (JWT); absent: every Bearer credential is an API key. */
  tokens?: TokenAuth | undefined;
  sha256Hex?: (text: string) => string | Promise<string>;
  header?: HeaderReader;
  logger?: Logger;
  metrics?: GatewayMetrics;
}

const CHALLENGE = { "WWW-Authenticate": "Bearer" } as const;
const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

function missingKey(): ApiError {
  return new ApiError(
    401,
    "authentication_error",
    "invalid_api_key",
    "You didn't provide an API key. Send it in the Authorization header as 'Bearer <key>'.",
    null,
    CHALLENGE,
  );
}

function invalidKey(): ApiError {
  return new ApiError(401, "authentication_error", "invalid_api_key", "Incorrect API key provided.", null, {
    "WWW-Authenticate": 'Bearer error="invalid_token"',
  });
}

export function apiKeyAuth(options: ApiKeyAuthOptions): MiddlewareHandler<GatewayEnv> {
  const { keyring, allowAnonymous, anonymousPolicy, clientIp, failures } = options;
  const hash = options.sha256Hex ?? sha256Hex;
  const readHeader: HeaderReader = options.header ?? ((c, name) => c.req.header(name));
  let ready = options.ready?.then(() => {
    ready = undefined;
  });
  let warned = false;

  async function refuse(c: Context<GatewayEnv>, error: ApiError): Promise<never> {
    if (failures !== undefined && failures.quota.limit > 0) {
      // A store failing closed refuses this request like any other (503), not as a crash (500).
      const state = await guarded(failures.store.consume(failures.quota, addressBucket(clientIp(c))));
      if (!state.allowed) {
        options.metrics?.rateLimited("ip");
        throw tooManyRequests(failures.quota, state, "Too many failed authentication attempts; retry later.");
      }
    }
    throw error;
  }

  function anonymous(c: Context<GatewayEnv>) {
    c.set("apiKeyId", null);
    c.set("principal", { kind: "ip", id: addressBucket(clientIp(c)), policy: anonymousPolicy });
  }

  return async function apiKeyAuth(c, next) {
    if (ready) await ready;
    if (options.tokens !== undefined) {
      const bearer = BEARER.exec(readHeader(c, "authorization") ?? "")?.[1];
      if (bearer !== undefined && options.tokens.accepts(bearer)) {
        let user: Principal;
        try {
          user = await options.tokens.authenticate(bearer);
        } catch (err) {
          if (err instanceof ApiError && err.status === 401) return refuse(c, err);
          throw err;
        }
        c.set("apiKeyId", user.id);
        c.set("principal", user);
        return next();
      }
    }
    if (keyring.size === 0) {
      if (allowAnonymous) {
        anonymous(c);
        return next();
      }
      if (!warned && options.tokens === undefined) {
        warned = true;
        options.logger?.warn("no API keys configured and anonymous access disabled: every /v1 request is refused");
      }
    }
    const header = readHeader(c, "authorization");
    if (header === undefined) {
      if (!allowAnonymous) return refuse(c, missingKey());
      anonymous(c);
      return next();
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) return refuse(c, missingKey());
    const record = keyring.find(await hash(token));
    if (record === undefined) return refuse(c, invalidKey());
    c.set("apiKeyId", record.id);
    c.set("principal", { kind: "key", id: record.id, policy: record.policy });
    return next();
  };
}
