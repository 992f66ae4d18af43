import { ApiError } from "@slm/config";
import { SignJWT } from "jose";
import { subjectOf, tokenError, verifyJwt, type VerifiedToken, type VerifyDeps } from "./verify-jwt.ts";

/**
 * The gateway's own short-lived sign-in tokens, for apps without an identity provider: an app's backend, holding an
 * API key whose policy has `mintTokens`, asks POST /v1/auth/tokens for a token for one of its users and hands it to
 * the front end. HS256 with GATEWAY_TOKEN_SECRET, so every gateway sharing the secret accepts them; issuer and
 * audience are the gateway's own, so they can never pass for an identity provider's tokens or the other way round.
 */

export const MINTED_ISSUER = "slm-gateway";
export const MINTED_AUDIENCE = "slm-gateway";
export const MINTED_ALGORITHM = "HS256";
export const MAX_TTL_SECONDS = 900;
export const DEFAULT_TTL_SECONDS = 600;

export interface MintOptions {
  secret: string;
  subject: string;
  ttlSeconds: number;
  /** The id of the key that minted it (`azp`, for the record). */
  keyId: string;
  /** A policy of the key file for this user (`policy` claim); absent: the default policy. */
  policy?: string | undefined;
  /** Milliseconds; stands in for Date.now (tests). */
  now?: () => number;
}

export async function mintToken(options: MintOptions): Promise<{ token: string; expiresAt: number }> {
  const issuedAt = Math.floor((options.now ?? Date.now)() / 1000);
  const expiresAt = issuedAt + options.ttlSeconds;
  const claims: Record<string, string> = { azp: options.keyId };
  if (options.policy !== undefined) claims["policy"] = options.policy;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: MINTED_ALGORITHM, typ: "JWT" })
    .setIssuer(MINTED_ISSUER)
    .setAudience(MINTED_AUDIENCE)
    .setSubject(options.subject)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(options.secret));
  return { token, expiresAt };
}

export interface MintedTokenOptions {
  secret: string;
  clockSkewSec?: number | undefined;
}

/** Verifies a token minted by a gateway sharing `secret`. Failures are ApiErrors (401 invalid_token). */
export function createMintedVerifier(
  options: MintedTokenOptions,
  deps: VerifyDeps = {},
): { verify(token: string): Promise<VerifiedToken> } {
  const key = new TextEncoder().encode(options.secret);
  const now = deps.now ?? Date.now;
  return {
    async verify(token) {
      try {
        const payload = await verifyJwt(token, key, {
          algorithms: [MINTED_ALGORITHM],
          issuer: MINTED_ISSUER,
          audience: MINTED_AUDIENCE,
          clockTolerance: options.clockSkewSec ?? 30,
          requiredClaims: ["exp", "sub"],
          currentDate: new Date(now()),
        });
        return { ...subjectOf(payload), payload };
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw tokenError(err, deps.logger);
      }
    },
  };
}
