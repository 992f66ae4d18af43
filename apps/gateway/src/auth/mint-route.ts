import { ApiError, expectationMessage } from "@slm/config";
import type { Context, Handler } from "hono";
import * as v from "valibot";
import type { Logger } from "../logger.ts";
import { decodeUtf8, parseJsonObject, withResponseHeaders } from "../middleware/index.ts";
import type { GatewayEnv } from "../types.ts";
import { DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MINTED_ISSUER, mintToken } from "./mint-token.ts";
import { userPrincipalId } from "./subject.ts";

/**
 * POST /v1/auth/tokens: `Authorization: Bearer <api key>` whose policy has `"mintTokens": true`, body
 * `{"subject": "user-42", "ttl_seconds": 600}` (ttl 1-900, default 600; optional `"policy"`, a policy of the key file
 * for this user) -> 200 `{"token": "<jwt>", "expires_at": <unix seconds>}`. A key without `mintTokens` (or a caller
 * that is not a key) is a 403; a bad body a 400. Runs after authentication and the key's request quota.
 */

export interface MintRouteOptions {
  /** GATEWAY_TOKEN_SECRET; undefined: minting is off (404). */
  secret: string | undefined;
  /** Whether the key file names this policy. */
  hasPolicy(name: string): boolean;
  maxBodyBytes: number;
  readBody: (c: Context<GatewayEnv>, maxBytes: number) => Promise<Uint8Array>;
  logger?: Logger;
  now?: () => number;
}

const MintRequest = v.strictObject({
  subject: v.pipe(
    v.string(),
    v.minLength(1, "a string of 1-256 characters"),
    v.maxLength(256, "a string of 1-256 characters"),
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    v.regex(/^[^\u0000-\u001f\u007f]*$/, "a string without control characters"),
  ),
  ttl_seconds: v.optional(
    v.pipe(
      v.number(),
      v.integer(`an integer from 1 to ${MAX_TTL_SECONDS}`),
      v.minValue(1, `an integer from 1 to ${MAX_TTL_SECONDS}`),
      v.maxValue(MAX_TTL_SECONDS, `an integer from 1 to ${MAX_TTL_SECONDS}`),
    ),
  ),
  policy: v.optional(v.pipe(v.string(), v.regex(/^[\w.-]{1,64}$/, "the name of a policy of the key file"))),
});

export function mintRoute(options: MintRouteOptions): Handler<GatewayEnv> {
  return async function mintTokens(c) {
    if (options.secret === undefined) {
      throw new ApiError(
        404,
        "not_found_error",
        "token_minting_off",
        "This gateway does not mint tokens (GATEWAY_TOKEN_SECRET is not set).",
      );
    }
    const principal = c.get("principal");
    if (principal.kind !== "key" || principal.policy.mintTokens !== true) {
      throw new ApiError(
        403,
        "permission_error",
        "mint_not_allowed",
        'Minting tokens needs an API key whose policy has "mintTokens": true.',
      );
    }
    const json = parseJsonObject(decodeUtf8(await options.readBody(c, Math.min(options.maxBodyBytes, 16 * 1024))));
    const parsed = v.safeParse(MintRequest, json, { abortEarly: true, message: expectationMessage });
    if (!parsed.success) {
      const issue = parsed.issues[0]!;
      const param = v.getDotPath(issue);
      throw new ApiError(
        400,
        "invalid_request_error",
        "invalid_request",
        `Invalid request: ${param ?? "body"}: ${issue.message}`,
        param,
      );
    }
    const { subject, ttl_seconds: ttlSeconds = DEFAULT_TTL_SECONDS, policy } = parsed.output;
    if (policy !== undefined && !options.hasPolicy(policy)) {
      throw new ApiError(400, "invalid_request_error", "unknown_policy", "The key file has no such policy.", "policy");
    }
    const minted = await mintToken({
      secret: options.secret,
      subject,
      ttlSeconds,
      keyId: principal.id,
      policy,
      now: options.now,
    });
    options.logger?.info("token minted", {
      requestId: c.get("requestId"),
      keyId: principal.id,
      user: await userPrincipalId(MINTED_ISSUER, subject),
      ttlSeconds,
    });
    const headers = withResponseHeaders(c, { "content-type": "application/json", "cache-control": "no-store" });
    return new Response(JSON.stringify({ token: minted.token, expires_at: minted.expiresAt }), {
      status: 200,
      headers,
    });
  };
}
