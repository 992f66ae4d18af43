/**
 * Sign-in tokens (JWT): an identity provider's (JWKS or a shared secret) and the gateway's own minted ones, verified
 * with jose; a verified token is a user principal with its own quotas. `createTokenAuth` is what `apiKeyAuth()`
 * consults for a Bearer credential that is a JWT; `mintRoute` serves POST /v1/auth/tokens.
 */

export { createJwks, type Jwks, type JwksOptions } from "./jwks.ts";
export { mintRoute, type MintRouteOptions } from "./mint-route.ts";
export {
  createMintedVerifier,
  MAX_TTL_SECONDS,
  MINTED_AUDIENCE,
  MINTED_ISSUER,
  mintToken,
  type MintedTokenOptions,
} from "./mint-token.ts";
export { userPrincipalId } from "./subject.ts";
export { createTokenAuth, type TokenAuth, type TokenAuthOptions } from "./token-auth.ts";
export { invalidToken, jwksUnavailable, JwksUnavailableError } from "./token-errors.ts";
export { createIdpVerifier, looksLikeJwt, type IdpTokenOptions } from "./verify-jwt.ts";
