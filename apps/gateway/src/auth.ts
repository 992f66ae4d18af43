import { ApiError, type GatewayConfig } from "@slm/config";
import type { MiddlewareHandler } from "hono";
import type { Logger } from "./logger.ts";
import type { GatewayEnv } from "./types.ts";

/**
 * Bearer API keys. Only SHA-256 digests of the configured keys are kept; a presented key is hashed and compared
 * against every digest with a constant-time loop, so neither its content nor its length changes the timing.
 *
 * - keys configured: a valid `Authorization: Bearer <key>` is required (with `allowAnonymous`, a request without
 *   any Authorization header is let through, but a presented key must still be valid);
 * - no keys, `allowAnonymous`: no authentication at all (clients that always send some key keep working);
 * - no keys, not `allowAnonymous`: every request is refused. The core fails closed; the runtime entry points
 *   (node.ts, deno.ts) generate a key at startup with `resolveApiKeys` so that this does not happen by accident.
 */

export interface ApiKeyAuthOptions {
  keys: readonly string[];
  allowAnonymous: boolean;
  logger?: Logger;
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

export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Constant-time equality of two 32-byte digests. */
function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

function hex(bytes: Uint8Array, length: number): string {
  return Array.from(bytes.subarray(0, length), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function apiKeyAuth(options: ApiKeyAuthOptions): MiddlewareHandler<GatewayEnv> {
  const { allowAnonymous } = options;
  const open = allowAnonymous && options.keys.length === 0;
  // Hashed once, lazily (crypto.subtle is async). The plain keys are not kept by the middleware.
  const digests: Promise<Uint8Array[]> = Promise.all(options.keys.map(sha256));
  if (!open && options.keys.length === 0) {
    options.logger?.warn("no API keys configured and anonymous access disabled: every /v1 request will be refused");
  }

  return async function apiKeyAuth(c, next) {
    if (open) {
      c.set("apiKeyId", null);
      return next();
    }
    const header = c.req.header("authorization");
    if (header === undefined) {
      if (!allowAnonymous) throw missingKey();
      c.set("apiKeyId", null);
      return next();
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) throw missingKey();

    const presented = await sha256(token);
    let match: Uint8Array | undefined;
    // No early exit: every configured digest is compared.
    for (const digest of await digests) {
      if (digestsEqual(digest, presented)) match = digest;
    }
    if (match === undefined) throw invalidKey();
    c.set("apiKeyId", hex(match, 6));
    return next();
  };
}

/** A random key: `sk-slm-` + 32 random bytes, base64url. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes));
  return `sk-slm-${b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

/**
 * The keys a runtime entry point should start with: the configured ones, or - with none configured and anonymous
 * access not explicitly enabled - one generated key, which the caller must show the operator once.
 */
export function resolveApiKeys(config: Pick<GatewayConfig, "apiKeys" | "allowAnonymous">): {
  apiKeys: string[];
  generatedKey: string | undefined;
} {
  if (config.apiKeys.length > 0 || config.allowAnonymous) return { apiKeys: [...config.apiKeys], generatedKey: undefined };
  const generatedKey = generateApiKey();
  return { apiKeys: [generatedKey], generatedKey };
}
