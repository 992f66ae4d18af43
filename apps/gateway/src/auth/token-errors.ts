import { ApiError, SafeError } from "@slm/config";

/**
 * The answers to a sign-in token the gateway cannot accept: 401 with `WWW-Authenticate: Bearer error="invalid_token"`
 * (RFC 6750) and a reason in OpenAI's envelope; 503 when the identity provider's keys cannot be had, since that says
 * nothing about the token. Messages name the rule that failed, never a claim's value.
 */

export type TokenProblem =
  | "malformed"
  | "expired"
  | "not_yet_valid"
  | "issuer"
  | "audience"
  | "subject"
  | "signature"
  | "unknown_key"
  | "algorithm";

const REASONS: Record<TokenProblem, string> = {
  malformed: "The token is not a well-formed signed JWT.",
  expired: "The token has expired.",
  not_yet_valid: "The token is not valid yet.",
  issuer: "The token's issuer (iss) is not accepted.",
  audience: "The token's audience (aud) is not accepted.",
  subject: "The token has no subject (sub), or no expiry (exp).",
  signature: "The token's signature is not valid.",
  unknown_key: "The token is signed with a key the identity provider does not publish.",
  algorithm: "The token's signing algorithm is not allowed.",
};

export function invalidToken(problem: TokenProblem): ApiError {
  return new ApiError(401, "authentication_error", "invalid_token", REASONS[problem], null, {
    "WWW-Authenticate": 'Bearer error="invalid_token"',
  });
}

/** The JWKS could not be fetched and no cached key can verify the token. */
export class JwksUnavailableError extends SafeError {
  override readonly name = "JwksUnavailableError";
  readonly code = "jwks_unavailable";
  constructor(options?: ErrorOptions) {
    super("the identity provider's signing keys (JWKS) are unavailable", options);
  }
}

export function jwksUnavailable(): ApiError {
  return new ApiError(
    503,
    "service_unavailable",
    "jwks_unavailable",
    "The identity provider's signing keys cannot be fetched right now; retry shortly.",
    null,
    { "Retry-After": "5" },
  );
}
