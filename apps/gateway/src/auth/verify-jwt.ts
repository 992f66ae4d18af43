import { ApiError } from "@slm/config";
import {
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type CryptoKey,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from "jose";
import type { Logger } from "../logger.ts";
import { createJwks, type Jwks } from "./jwks.ts";
import { invalidToken, JwksUnavailableError, jwksUnavailable, type TokenProblem } from "./token-errors.ts";

/**
 * Verifying a sign-in token (a JWT) with jose: the signature (an identity provider's JWKS for asymmetric algorithms,
 * a shared secret for HS*), `iss`, `aud`, `exp` and `nbf` with the clock skew, and a non-empty `sub`. The algorithm
 * decides the key: an HS* token is only ever checked with the shared secret, never with a JWKS public key as its
 * secret (jose's key sets refuse HS* anyway), and `none` is never accepted (jose has no such algorithm for signed
 * JWTs, and the configuration refuses the name). Failures are ApiErrors: 401 invalid_token, or 503 when the JWKS
 * cannot be had.
 */

export interface IdpTokenOptions {
  jwksUrl?: string | undefined;
  /** HS256 (or HS384/512) shared secret, as Supabase issues; used as its UTF-8 bytes. */
  secret?: string | undefined;
  issuers: readonly string[];
  audiences: readonly string[];
  /** Accepted `alg` values; HS* need `secret`, the others `jwksUrl`. */
  algorithms: readonly string[];
  clockSkewSec: number;
  /** A claim naming a policy of the key file (a dotted path reaches into objects: `app_metadata.plan`). */
  policyClaim?: string | undefined;
}

export interface VerifiedToken {
  issuer: string;
  subject: string;
  payload: JWTPayload;
}

export interface VerifyDeps {
  /** Milliseconds; stands in for Date.now (tests). */
  now?: () => number;
  logger?: Logger;
}

const isHmac = (alg: string) => alg.startsWith("HS");

/** The shape of a compact JWS: three base64url parts (the last may be empty, as in an unsigned token). */
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** A Bearer credential that is a JWT (three dot-separated parts whose first is a JOSE header), not an API key. */
export function looksLikeJwt(token: string): boolean {
  if (!COMPACT.test(token)) return false;
  try {
    return typeof decodeProtectedHeader(token).alg === "string";
  } catch {
    return false;
  }
}

const PROBLEM_BY_CLAIM: Record<string, TokenProblem> = {
  nbf: "not_yet_valid",
  iss: "issuer",
  aud: "audience",
  sub: "subject",
  exp: "subject",
};

/** What a jose (or JWKS) failure means for the client. */
export function tokenError(err: unknown, logger?: Logger): ApiError {
  if (err instanceof JwksUnavailableError) return jwksUnavailable();
  if (err instanceof errors.JWTExpired) return invalidToken("expired");
  if (err instanceof errors.JWTClaimValidationFailed) return invalidToken(PROBLEM_BY_CLAIM[err.claim] ?? "malformed");
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalidToken("signature");
  if (err instanceof errors.JWKSNoMatchingKey) return invalidToken("unknown_key");
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return invalidToken("algorithm");
  }
  // JWSInvalid, JWTInvalid, a key that does not fit its algorithm...: nothing more precise to tell the client.
  logger?.debug("token refused", { err });
  return invalidToken("malformed");
}

/** jwtVerify, trying each key when a key set holds several that match a token without `kid`. */
export async function verifyJwt(
  token: string,
  key: Uint8Array | CryptoKey | JWTVerifyGetKey,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, key as JWTVerifyGetKey, options)).payload;
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const candidate of err) {
      try {
        return (await jwtVerify(token, candidate, options)).payload;
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/** `sub` and `iss` as the quota subject needs them: non-empty strings of sane length. */
export function subjectOf(payload: JWTPayload): { issuer: string; subject: string } {
  const { iss, sub } = payload;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > 1024) throw invalidToken("subject");
  if (typeof iss !== "string") throw invalidToken("issuer");
  return { issuer: iss, subject: sub };
}

export interface IdpVerifier {
  verify(token: string): Promise<VerifiedToken>;
  /** The JWKS cache, when a JWKS URL is configured. */
  jwks: Jwks | undefined;
}

/** Tokens of an identity provider: GATEWAY_JWT_JWKS_URL and/or GATEWAY_JWT_SECRET. */
export function createIdpVerifier(
  options: IdpTokenOptions,
  deps: VerifyDeps & { fetch?: typeof fetch } = {},
): IdpVerifier {
  const now = deps.now ?? Date.now;
  const allowed = new Set(options.algorithms);
  const hmacAlgorithms = options.algorithms.filter(isHmac);
  const keyAlgorithms = options.algorithms.filter((alg) => !isHmac(alg));
  const secret = options.secret === undefined ? undefined : new TextEncoder().encode(options.secret);
  const jwks =
    options.jwksUrl === undefined
      ? undefined
      : createJwks({ url: options.jwksUrl, fetch: deps.fetch, now, logger: deps.logger });

  return {
    jwks,
    async verify(token) {
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw invalidToken("malformed");
      }
      if (typeof alg !== "string" || !allowed.has(alg)) throw invalidToken("algorithm");
      const hmac = isHmac(alg);
      const key = hmac ? secret : jwks?.getKey;
      if (key === undefined) throw invalidToken("algorithm");
      try {
        const payload = await verifyJwt(token, key, {
          algorithms: hmac ? hmacAlgorithms : keyAlgorithms,
          issuer: [...options.issuers],
          audience: [...options.audiences],
          clockTolerance: options.clockSkewSec,
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

/** The value of `claim` in `payload`: the claim of that exact name, else a dotted path into nested objects. */
export function claimAt(payload: JWTPayload, claim: string): unknown {
  if (Object.hasOwn(payload, claim)) return payload[claim];
  let value: unknown = payload;
  for (const part of claim.split(".")) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Policy names a claim's value offers: a string, or the strings of a list (Cognito groups, Keycloak roles). */
export function policyNames(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}
