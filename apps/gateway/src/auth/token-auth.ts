import { decodeJwt } from "jose";
import type { KeyPolicy } from "../keys/key-policy.ts";
import type { Logger } from "../logger.ts";
import type { Principal } from "../types.ts";
import type { Jwks } from "./jwks.ts";
import { createMintedVerifier, MINTED_ISSUER, type MintedTokenOptions } from "./mint-token.ts";
import { userPrincipalId } from "./subject.ts";
import { invalidToken } from "./token-errors.ts";
import {
  claimAt,
  createIdpVerifier,
  looksLikeJwt,
  policyNames,
  type IdpTokenOptions,
  type VerifiedToken,
} from "./verify-jwt.ts";

/**
 * Sign-in tokens as a principal: a verified token becomes a user (`kind: "user"`) whose id is the hash of its issuer
 * and subject (see subject.ts), so every quota that counts a key's id (requests, tokens, streams, requests in flight,
 * shared through Redis) counts each user the same way. The user's policy is the key file's policy named by the
 * token's policy claim (the first name of a list that is a known policy), else the default policy.
 *
 * Which verifier: a token whose (unverified) `iss` is the gateway's own goes to the minted-token verifier, any other
 * to the identity provider's; each then checks the signature and `iss` for itself.
 */

export interface TokenAuthOptions {
  /** An identity provider's tokens (GATEWAY_JWT_*). */
  jwt?: IdpTokenOptions | undefined;
  /** The gateway's own minted tokens (GATEWAY_TOKEN_SECRET). */
  minted?: MintedTokenOptions | undefined;
  /** A named policy of the key file (reloadable). */
  policy(name: string): KeyPolicy | undefined;
  defaultPolicy: KeyPolicy;
  /** Stands in for the global fetch towards the JWKS (tests). */
  fetch?: typeof fetch;
  now?: () => number;
  logger?: Logger;
}

export interface TokenAuth {
  /** Whether a Bearer credential is a JWT (three dot-separated parts) rather than an API key. */
  accepts(bearer: string): boolean;
  /** The user a token signs in, or an ApiError (401 invalid_token, 503 jwks_unavailable). */
  authenticate(bearer: string): Promise<Principal>;
  /** The identity provider's key cache, when a JWKS is configured (prefetched at startup). */
  jwks: Jwks | undefined;
}

/** The gateway's token authentication, or undefined when neither an identity provider nor a token secret is set. */
export function createTokenAuth(options: TokenAuthOptions): TokenAuth | undefined {
  if (options.jwt === undefined && options.minted === undefined) return undefined;
  const deps = { now: options.now, logger: options.logger, fetch: options.fetch };
  const idp = options.jwt === undefined ? undefined : createIdpVerifier(options.jwt, deps);
  const minted = options.minted === undefined ? undefined : createMintedVerifier(options.minted, deps);
  const policyClaim = options.jwt?.policyClaim;

  function policyFor(verified: VerifiedToken, own: boolean): KeyPolicy {
    const claim = own ? "policy" : policyClaim;
    if (claim === undefined) return options.defaultPolicy;
    for (const name of policyNames(claimAt(verified.payload, claim))) {
      const policy = options.policy(name);
      if (policy !== undefined) return policy;
    }
    return options.defaultPolicy;
  }

  return {
    jwks: idp?.jwks,
    accepts: looksLikeJwt,
    async authenticate(bearer) {
      let issuer: unknown;
      try {
        issuer = decodeJwt(bearer).iss;
      } catch {
        throw invalidToken("malformed");
      }
      const own = minted !== undefined && issuer === MINTED_ISSUER;
      const verifier = own ? minted : idp;
      if (verifier === undefined) throw invalidToken("issuer");
      const verified = await verifier.verify(bearer);
      return {
        kind: "user",
        id: await userPrincipalId(verified.issuer, verified.subject),
        policy: policyFor(verified, own),
      };
    },
  };
}
