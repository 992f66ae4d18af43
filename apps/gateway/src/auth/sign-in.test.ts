import { createHash } from "node:crypto";
import { base64url, type CryptoKey, decodeJwt, decodeProtectedHeader, exportSPKI, importJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  newSigningKey,
  signHs256,
  signToken,
  startJwksServer,
  type JwksServer,
  type SigningKey,
} from "../../test/support/jwks-server.ts";
import { KEY, testApp } from "../../test/support/test-app.ts";
import { buildKeyRecords, buildPolicies, readKeyFile } from "../keys/key-file.ts";
import type { KeyPolicy } from "../keys/key-policy.ts";
import { createKeyring } from "../keys/keyring.ts";
import { createLogger } from "../logger.ts";
import { noMetrics, type GatewayMetrics } from "../metrics/metrics.ts";
import { mintToken } from "./mint-token.ts";
import type { IdpTokenOptions } from "./verify-jwt.ts";

/**
 * Sign-in tokens through the whole app (`app.request`): real RS256, ES256 and EdDSA tokens against a JWKS served on
 * 127.0.0.1, HS256 tokens with a shared secret, and the gateway's own minted tokens. What each refusal looks like
 * (401, `WWW-Authenticate: Bearer error="invalid_token"`, the OpenAI envelope), that API keys keep working beside
 * tokens, that each user has quotas of their own under a hash of issuer and subject (never the token or the subject
 * in a log or a metric), the policy claim, the 503 without a usable key, and POST /v1/auth/tokens.
 */

const ISSUER = "https://tenant.idp.example/";
const AUDIENCE = "slm-api";
const SHARED_SECRET = "supabase-style-jwt-secret-0123456789abcdef";
const TOKEN_SECRET = "gateway-token-secret-0123456789abcdefgh";
const MINTER = "sk-minter-key-0123456789abcdef";
const FREE = "sk-free-key-0123456789abcdef";

let server: JwksServer;
let rsa: SigningKey;
let ec: SigningKey;
let ed: SigningKey;
let impostor: SigningKey;

beforeAll(async () => {
  [rsa, ec, ed, impostor] = await Promise.all([
    newSigningKey("RS256"),
    newSigningKey("ES256"),
    newSigningKey("EdDSA"),
    newSigningKey("RS256"),
  ]);
  server = await startJwksServer([rsa, ec, ed]);
});

afterAll(() => server?.close());

const DEFAULTS: KeyPolicy = {
  models: "*",
  requestsPerMinute: 2,
  tokensPerMinute: 0,
  concurrentStreams: 0,
  concurrentRequests: 0,
  maxTokens: 256,
  maxChoices: 0,
} as KeyPolicy;

const KEY_FILE = JSON.stringify({
  keys: [
    { id: "minter", key: MINTER, mintTokens: true, requestsPerMinute: 0 },
    { id: "plain", key: KEY, requestsPerMinute: 0 },
    { id: "free-key", key: FREE, policy: "free" },
  ],
  policies: { pro: { requestsPerMinute: 100 }, free: { requestsPerMinute: 1 } },
});

async function keyring() {
  const file = readKeyFile(KEY_FILE);
  const policies = buildPolicies(file.policies, DEFAULTS);
  return createKeyring(await buildKeyRecords(file.keys, DEFAULTS, policies), policies);
}

const idp = (overrides: Partial<IdpTokenOptions> = {}): IdpTokenOptions => ({
  jwksUrl: server.url,
  secret: SHARED_SECRET,
  issuers: [ISSUER],
  audiences: [AUDIENCE],
  algorithms: ["RS256", "ES256", "EdDSA", "HS256"],
  clockSkewSec: 30,
  policyClaim: "plan",
  ...overrides,
});

async function signIn(overrides: Parameters<typeof testApp>[0] = {}) {
  const lines: string[] = [];
  const labels: string[] = [];
  const metrics: GatewayMetrics = { ...noMetrics, request: (_route, _status, keyId) => labels.push(keyId) };
  const { app } = testApp({
    keyring: await keyring(),
    defaultPolicy: DEFAULTS,
    jwt: idp(),
    mintedTokens: { secret: TOKEN_SECRET },
    logger: createLogger({ level: "debug", write: (line) => lines.push(line) }),
    metrics,
    ...overrides,
  });
  const get = (token: string, path = "/v1/models") =>
    app.request(path, { headers: { authorization: `Bearer ${token}` } });
  const mint = (key: string, body: unknown) =>
    app.request("/v1/auth/tokens", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { app, get, mint, lines, labels };
}

const now = () => Math.floor(Date.now() / 1000);
const userId = (iss: string, sub: string) =>
  `user:${createHash("sha256").update(`${iss}\n${sub}`).digest("hex").slice(0, 32)}`;
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISSUER, aud: AUDIENCE, sub: "alice", ...extra });

async function expectInvalidToken(res: Response, message: RegExp, token?: string) {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
  const body = (await res.json()) as { error: Record<string, unknown> };
  expect(body).toEqual({
    error: {
      message: expect.stringMatching(message),
      type: "authentication_error",
      param: null,
      code: "invalid_token",
    },
  });
  if (token) expect(JSON.stringify(body)).not.toContain(token);
}

/** A compact JWS from raw parts (for what jose would refuse to sign). */
const compact = (header: object, payload: object, signature = "") =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.${signature}`;

describe("sign-in tokens", () => {
  it("accepts real RS256, ES256 and EdDSA tokens (JWKS) and HS256 (shared secret); each user is its own principal, logged and counted by a hash", async () => {
    const { get, lines, labels } = await signIn();
    const tokens = [
      await signToken(rsa, claims()),
      await signToken(ec, claims()),
      await signToken(ed, claims()),
      await signHs256(SHARED_SECRET, claims({ sub: "bob" })),
    ];
    const statuses = [];
    for (const token of tokens.slice(0, 2)) statuses.push((await get(token)).status);
    statuses.push((await get(tokens[3]!)).status);
    expect(statuses).toEqual([200, 200, 200]);
    // Alice's third request (the EdDSA token): her quota of 2 per minute is used up, whatever signed the token.
    const third = await get(tokens[2]!);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");

    const alice = userId(ISSUER, "alice");
    const bob = userId(ISSUER, "bob");
    expect(labels).toEqual([alice, alice, bob, alice]);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l["msg"] === "request");
    expect(logged.map((l) => l["keyId"])).toEqual([alice, alice, bob, alice]);
    const everything = lines.join("\n");
    for (const token of tokens) expect(everything).not.toContain(token);
    expect(everything).not.toMatch(/"alice"|"bob"|alice@|\balice\b/);
  });

  it("keeps API keys working beside tokens, with their own quotas", async () => {
    const { get } = await signIn();
    for (let i = 0; i < 3; i++) expect((await get(KEY)).status).toBe(200);
    const wrong = await get("sk-not-a-key-0123456789");
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    // A key that happens to hold dots is still a key, not a malformed token.
    expect((await get("sk.with.dots-0123456789")).status).toBe(401);
    expect(((await (await get("sk.with.dots-0123456789")).json()) as { error: { code: string } }).error.code).toBe(
      "invalid_api_key",
    );
  });

  it("gives each user their own quota: another subject, or the same subject at another issuer, is another user", async () => {
    const { get, mint } = await signIn();
    const alice = await signToken(rsa, claims());
    expect((await get(alice)).status).toBe(200);
    expect((await get(alice)).status).toBe(200);
    expect((await get(alice)).status).toBe(429);
    expect((await get(await signToken(rsa, claims({ sub: "carol" })))).status).toBe(200);
    // "alice" minted by the gateway is not the identity provider's alice.
    const minted = (await (await mint(MINTER, { subject: "alice" })).json()) as { token: string };
    expect((await get(minted.token)).status).toBe(200);
    // The key is untouched by its users' quotas.
    expect((await get(KEY)).status).toBe(200);
  });

  it("refuses with 401, WWW-Authenticate and the envelope: expired, not yet valid, issuer, audience, signature, unknown key, algorithm, no subject", async () => {
    const { get } = await signIn({ jwt: idp({ algorithms: ["RS256", "ES256", "EdDSA"], secret: undefined }) });
    const t = now();
    const cases: Array<[string, Promise<string> | string, RegExp]> = [
      ["expired beyond the skew", signToken(rsa, claims({ exp: t - 60 })), /expired/],
      ["not yet valid beyond the skew", signToken(rsa, claims({ nbf: t + 120 })), /not valid yet/],
      ["another issuer", signToken(rsa, claims({ iss: "https://evil.example/" })), /issuer/],
      ["another audience", signToken(rsa, claims({ aud: "someone-else" })), /audience/],
      ["no audience", signToken(rsa, { iss: ISSUER, sub: "alice" }), /audience/],
      [
        "a signature by another key under a published kid",
        signToken(impostor, claims(), { header: { kid: rsa.kid } }),
        /signature/,
      ],
      [
        "a kid never published (after the refetch)",
        signToken(impostor, claims()),
        /key the identity provider does not publish/,
      ],
      ["no subject", signToken(rsa, { iss: ISSUER, aud: AUDIENCE }), /subject/],
      ["an empty subject", signToken(rsa, claims({ sub: "" })), /subject/],
      ["alg none", compact({ alg: "none", typ: "JWT" }, { ...claims(), exp: t + 60 }), /algorithm/],
      [
        "an algorithm not allowed",
        compact({ alg: "PS256", kid: rsa.kid }, { ...claims(), exp: t + 60 }, "c2ln"),
        /algorithm/,
      ],
      ["HS256 without a shared secret", signHs256(SHARED_SECRET, claims()), /algorithm/],
    ];
    for (const [label, pending, message] of cases) {
      const token = await pending;
      await expectInvalidToken(await get(token), message, token).catch((err: Error) => {
        throw new Error(`${label}: ${err.message}`);
      });
    }
    // A tampered payload (the signature no longer matches).
    const good = await signToken(rsa, claims());
    const [h, , s] = good.split(".");
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...decodeJwt(good), sub: "mallory" }))}.${s}`;
    await expectInvalidToken(await get(tampered), /signature/);
    // Within the skew both ways: accepted.
    expect((await get(await signToken(rsa, claims({ exp: t - 10, sub: "skew-1" })))).status).toBe(200);
    expect((await get(await signToken(rsa, claims({ nbf: t + 10, sub: "skew-2" })))).status).toBe(200);
  });

  it("never verifies an HS256 token with a JWKS public key as its secret", async () => {
    // The classic confusion: sign HS256 with the bytes of the provider's published public key, under its kid.
    const publicBytes = [
      new TextEncoder().encode(JSON.stringify(rsa.publicJwk)),
      new TextEncoder().encode(await exportSPKI((await importJWK(rsa.publicJwk, "RS256")) as CryptoKey)),
      base64url.decode(String(rsa.publicJwk.n)),
    ];
    const jwksOnly = await signIn({ jwt: idp({ algorithms: ["RS256", "ES256", "EdDSA"], secret: undefined }) });
    // Even with HS256 allowed beside the JWKS, only the configured shared secret verifies HS256.
    const both = await signIn();
    for (const secret of publicBytes) {
      const forged = await new SignJWT(claims({ exp: now() + 60 }))
        .setProtectedHeader({ alg: "HS256", kid: rsa.kid })
        .sign(secret);
      await expectInvalidToken(await jwksOnly.get(forged), /algorithm/);
      await expectInvalidToken(await both.get(forged), /signature/);
    }
  });

  it("answers 503 (not 401) when no usable key can be had, and does not count it as a failed sign-in", async () => {
    const { get } = await signIn({
      jwt: idp({ jwksUrl: "http://127.0.0.1:1/.well-known/jwks.json", secret: undefined, algorithms: ["RS256"] }),
      ipRequestsPerMinute: 1,
    });
    for (let i = 0; i < 3; i++) {
      const res = await get(await signToken(rsa, claims()));
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await res.json()).toEqual({
        error: { message: expect.any(String), type: "service_unavailable", param: null, code: "jwks_unavailable" },
      });
    }
  });

  it("counts refused tokens against the client address's failed-attempt quota", async () => {
    const { get } = await signIn({ ipRequestsPerMinute: 2 });
    const expired = await signToken(rsa, claims({ exp: now() - 3600 }));
    expect((await get(expired)).status).toBe(401);
    expect((await get(expired)).status).toBe(401);
    expect((await get(expired)).status).toBe(429);
  });

  it("gives a user the key file's policy their claim names (a list: the first known one), else the default", async () => {
    const policyOf = async (app: Awaited<ReturnType<typeof signIn>>, extra: Record<string, unknown>) => {
      const res = await app.get(await signToken(ec, claims({ sub: `p-${Math.random()}`, ...extra })));
      expect(res.status).toBe(200);
      return res.headers.get("ratelimit-policy");
    };
    const flat = await signIn();
    expect(await policyOf(flat, { plan: "pro" })).toBe('"requests";q=100;w=60');
    expect(await policyOf(flat, { plan: ["gold", "free"] })).toBe('"requests";q=1;w=60');
    expect(await policyOf(flat, { plan: "gold" })).toBe('"requests";q=2;w=60');
    expect(await policyOf(flat, {})).toBe('"requests";q=2;w=60');
    const nested = await signIn({ jwt: idp({ policyClaim: "app_metadata.plan" }) });
    expect(await policyOf(nested, { app_metadata: { plan: "pro" } })).toBe('"requests";q=100;w=60');
    const namespaced = await signIn({ jwt: idp({ policyClaim: "https://app.example/plan" }) });
    expect(await policyOf(namespaced, { "https://app.example/plan": "pro" })).toBe('"requests";q=100;w=60');
    // Without GATEWAY_JWT_POLICY_CLAIM, a claim named plan changes nothing.
    const none = await signIn({ jwt: idp({ policyClaim: undefined }) });
    expect(await policyOf(none, { plan: "pro" })).toBe('"requests";q=2;w=60');
  });
});

describe("POST /v1/auth/tokens", () => {
  it("mints a short-lived HS256 token for a subject with a key whose policy has mintTokens; the token signs the user in", async () => {
    const { mint, get, lines } = await signIn();
    const before = now();
    const res = await mint(MINTER, { subject: "user-42", ttl_seconds: 600 });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as { token: string; expires_at: number };
    expect(Object.keys(body).sort()).toEqual(["expires_at", "token"]);
    expect(body.expires_at).toBeGreaterThanOrEqual(before + 600);
    expect(body.expires_at).toBeLessThanOrEqual(now() + 600);
    expect(decodeProtectedHeader(body.token)).toEqual({ alg: "HS256", typ: "JWT" });
    expect(decodeJwt(body.token)).toMatchObject({
      sub: "user-42",
      iss: "slm-gateway",
      aud: "slm-gateway",
      exp: body.expires_at,
      azp: "minter",
    });

    const used = await get(body.token);
    expect(used.status).toBe(200);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.filter((l) => l["msg"] === "request").at(-1)?.["keyId"]).toBe(userId("slm-gateway", "user-42"));
    expect(lines.join("\n")).not.toContain(body.token);
    expect(lines.join("\n")).not.toContain("user-42");
    // The default TTL is 600 s.
    const plain = (await (await mint(MINTER, { subject: "user-43" })).json()) as { expires_at: number };
    expect(plain.expires_at - now()).toBeGreaterThan(590);
  });

  it("refuses a TTL over 900 s and other bad bodies with 400", async () => {
    const { mint } = await signIn();
    const bad: Array<[unknown, string | null]> = [
      [{ subject: "u", ttl_seconds: 901 }, "ttl_seconds"],
      [{ subject: "u", ttl_seconds: 0 }, "ttl_seconds"],
      [{ subject: "u", ttl_seconds: 60.5 }, "ttl_seconds"],
      [{ subject: "u", ttl_seconds: "600" }, "ttl_seconds"],
      [{ ttl_seconds: 60 }, "subject"],
      [{ subject: "" }, "subject"],
      [{ subject: "x".repeat(257) }, "subject"],
      [{ subject: "u", extra: 1 }, "extra"],
      [{ subject: "u", policy: "platinum" }, "policy"],
      ["[1]", null],
      ["{not json", null],
    ];
    for (const [body, param] of bad) {
      const res = await mint(MINTER, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = ((await res.json()) as { error: { param: string | null; type: string } }).error;
      expect(error.type).toBe("invalid_request_error");
      expect(error.param).toBe(param);
    }
    expect((await mint(MINTER, { subject: "u", ttl_seconds: 900 })).status).toBe(200);
  });

  it("is a 403 for a key without mintTokens and for a signed-in user; 401 without a key", async () => {
    const { mint, app } = await signIn();
    for (const credential of [KEY, FREE, await signToken(rsa, claims())]) {
      const res = await mint(credential, { subject: "u" });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { type: string; code: string } }).error).toMatchObject({
        type: "permission_error",
        code: "mint_not_allowed",
      });
    }
    expect((await app.request("/v1/auth/tokens", { method: "POST", body: "{}" })).status).toBe(401);
  });

  it("mints with a named policy for the user", async () => {
    const { mint, get } = await signIn();
    const { token } = (await (await mint(MINTER, { subject: "u-pro", policy: "pro" })).json()) as { token: string };
    expect((await get(token)).headers.get("ratelimit-policy")).toBe('"requests";q=100;w=60');
  });

  it("is accepted by every gateway that shares GATEWAY_TOKEN_SECRET, and by no other", async () => {
    const one = await signIn();
    const two = await signIn({ jwt: undefined });
    const other = await signIn({ mintedTokens: { secret: "another-gateway-secret-0123456789abcdef" } });
    const idpOnly = await signIn({ mintedTokens: undefined });
    const { token } = (await (await one.mint(MINTER, { subject: "user-7" })).json()) as { token: string };
    expect((await two.get(token)).status).toBe(200);
    await expectInvalidToken(await other.get(token), /signature/);
    // Without a token secret the gateway's issuer is just another issuer the identity provider's verifier refuses.
    await expectInvalidToken(await idpOnly.get(token), /signature/);
    // Minting is off there.
    expect((await idpOnly.mint(MINTER, { subject: "u" })).status).toBe(404);
    // An expired minted token.
    const old = await mintToken({
      secret: TOKEN_SECRET,
      subject: "user-7",
      ttlSeconds: 60,
      keyId: "minter",
      now: () => Date.now() - 3_600_000,
    });
    await expectInvalidToken(await two.get(old.token), /expired/);
  });
});
