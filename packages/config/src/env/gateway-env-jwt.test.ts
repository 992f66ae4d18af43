import { describe, expect, it } from "vitest";
import { EnvError, readGatewayEnv } from "../index.ts";

/** The sign-in settings (GATEWAY_JWT_*, GATEWAY_TOKEN_SECRET): defaults, requirements, and never a value in a message. */

const JWKS = "https://tenant.auth0.example/.well-known/jwks.json";
const SECRET = "a-supabase-jwt-secret-of-forty-characters";

function problems(env: Record<string, string>): string {
  try {
    readGatewayEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvError);
    return (error as Error).message;
  }
  throw new Error("expected an EnvError");
}

describe("readGatewayEnv: sign-in tokens", () => {
  it("is off by default", () => {
    const config = readGatewayEnv({});
    expect(config.jwt).toBeUndefined();
    expect(config.mintedTokens).toBeUndefined();
  });

  it("defaults to RS256, ES256, EdDSA with a JWKS, HS256 with a secret, both with both; skew 30 s", () => {
    const base = { GATEWAY_JWT_ISSUER: "https://tenant.auth0.example/", GATEWAY_JWT_AUDIENCE: "slm-api" };
    expect(readGatewayEnv({ ...base, GATEWAY_JWT_JWKS_URL: JWKS }).jwt).toEqual({
      jwksUrl: JWKS,
      secret: undefined,
      issuers: ["https://tenant.auth0.example/"],
      audiences: ["slm-api"],
      algorithms: ["RS256", "ES256", "EdDSA"],
      clockSkewSec: 30,
      policyClaim: undefined,
    });
    expect(readGatewayEnv({ ...base, GATEWAY_JWT_SECRET: SECRET }).jwt?.algorithms).toEqual(["HS256"]);
    expect(
      readGatewayEnv({ ...base, GATEWAY_JWT_SECRET: SECRET, GATEWAY_JWT_JWKS_URL: JWKS, GATEWAY_JWT_CLOCK_SKEW_S: "5" })
        .jwt,
    ).toMatchObject({ algorithms: ["RS256", "ES256", "EdDSA", "HS256"], clockSkewSec: 5 });
    expect(
      readGatewayEnv({
        ...base,
        GATEWAY_JWT_JWKS_URL: JWKS,
        GATEWAY_JWT_ALGORITHMS: "ES256",
        GATEWAY_JWT_POLICY_CLAIM: "app_metadata.plan",
      }).jwt,
    ).toMatchObject({ algorithms: ["ES256"], policyClaim: "app_metadata.plan" });
  });

  it("requires the issuer and the audience when JWT auth is on", () => {
    const message = problems({ GATEWAY_JWT_JWKS_URL: JWKS });
    expect(message).toMatch(/GATEWAY_JWT_ISSUER: expected the issuer/);
    expect(message).toMatch(/GATEWAY_JWT_AUDIENCE: expected the audience/);
    expect(problems({ GATEWAY_JWT_SECRET: SECRET, GATEWAY_JWT_ISSUER: "x" })).toMatch(/GATEWAY_JWT_AUDIENCE/);
  });

  it("refuses none, unknown algorithms, and algorithms without their key source", () => {
    const base = { GATEWAY_JWT_JWKS_URL: JWKS, GATEWAY_JWT_ISSUER: "i", GATEWAY_JWT_AUDIENCE: "a" };
    expect(problems({ ...base, GATEWAY_JWT_ALGORITHMS: "RS256,none" })).toMatch(
      /GATEWAY_JWT_ALGORITHMS: expected algorithms among .*\(never none\)/,
    );
    expect(problems({ ...base, GATEWAY_JWT_ALGORITHMS: "RS1" })).toMatch(/GATEWAY_JWT_ALGORITHMS/);
    expect(problems({ ...base, GATEWAY_JWT_ALGORITHMS: "RS256,HS256" })).toMatch(
      /GATEWAY_JWT_ALGORITHMS: expected HS algorithms only with GATEWAY_JWT_SECRET/,
    );
    expect(
      problems({
        GATEWAY_JWT_SECRET: SECRET,
        GATEWAY_JWT_ISSUER: "i",
        GATEWAY_JWT_AUDIENCE: "a",
        GATEWAY_JWT_ALGORITHMS: "RS256",
      }),
    ).toMatch(/GATEWAY_JWT_ALGORITHMS/);
  });

  it("refuses JWT settings without a JWKS or secret, short secrets and bad URLs, without printing values", () => {
    expect(problems({ GATEWAY_JWT_ISSUER: "https://issuer.example" })).toMatch(
      /GATEWAY_JWT_JWKS_URL: expected a JWKS URL/,
    );
    const message = problems({
      GATEWAY_JWT_JWKS_URL: "ftp://keys.example/jwks",
      GATEWAY_JWT_SECRET: "short-secret-value",
      GATEWAY_TOKEN_SECRET: "tiny-token-secret",
      GATEWAY_JWT_ISSUER: "i",
      GATEWAY_JWT_AUDIENCE: "a",
      GATEWAY_JWT_CLOCK_SKEW_S: "-1",
    });
    expect(message).toMatch(/GATEWAY_JWT_JWKS_URL: expected an http\(s\) URL/);
    expect(message).toMatch(/GATEWAY_JWT_SECRET: expected a shared secret of at least 32 characters/);
    expect(message).toMatch(/GATEWAY_TOKEN_SECRET: expected a secret of at least 32 characters/);
    expect(message).toMatch(/GATEWAY_JWT_CLOCK_SKEW_S/);
    expect(message).not.toContain("short-secret-value");
    expect(message).not.toContain("tiny-token-secret");
  });

  it("turns minted tokens on with GATEWAY_TOKEN_SECRET alone", () => {
    const config = readGatewayEnv({ GATEWAY_TOKEN_SECRET: "t".repeat(32) });
    expect(config.mintedTokens).toEqual({ secret: "t".repeat(32), clockSkewSec: 30 });
    expect(config.jwt).toBeUndefined();
  });
});
