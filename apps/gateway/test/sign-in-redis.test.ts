import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, stopAll, until, type GatewayProcess } from "./support/gateway-process.ts";
import { newSigningKey, signToken, startJwksServer, type JwksServer, type SigningKey } from "./support/jwks-server.ts";
import { startStubInference, type StubInference } from "./support/stub-inference.ts";

/**
 * Sign-in tokens with real gateway processes: two gateways on the Redis at 127.0.0.1:6379 (a prefix of this run's
 * own, deleted afterwards) and a JWKS server on 127.0.0.1 that rotates its keys and goes down. A user's quotas are
 * shared by both gateways exactly as a key's are; a token minted by one is accepted by the other under the same
 * quota; rotation needs no restart (one refetch per gateway, then at most one per 30 s); cached keys keep working
 * while the JWKS is down, and a gateway with no usable key answers 503. No token and no raw subject ever reaches a
 * log line, a metric or a Redis key.
 */

const REDIS_URL = "redis://127.0.0.1:6379";
const PREFIX = `slm-test-jwt-${randomBytes(6).toString("hex")}`;
const ISSUER = "https://tenant.idp.example/";
const AUDIENCE = "slm-api";
const TOKEN_SECRET = randomBytes(32).toString("base64url");
const MINTER = `sk-minter-${randomBytes(12).toString("hex")}`;
const N = 3;

let stub: StubInference;
let redis: Redis;
let jwks: JwksServer;
let first: SigningKey;
let second: SigningKey;
let third: SigningKey;
let dir: string;
let env: Record<string, string>;
let one: GatewayProcess;
let two: GatewayProcess;
const issued: string[] = [];

const userId = (iss: string, sub: string) =>
  `user:${createHash("sha256").update(`${iss}\n${sub}`).digest("hex").slice(0, 32)}`;

async function token(key: SigningKey, sub: string): Promise<string> {
  const t = await signToken(key, { iss: ISSUER, aud: AUDIENCE, sub });
  issued.push(t);
  return t;
}

const get = (gw: GatewayProcess, credential: string, path = "/v1/models") =>
  fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${credential}` } });

beforeAll(async () => {
  stub = await startStubInference();
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect(); // fails the suite if Redis is not there: these tests are about it
  [first, second, third] = await Promise.all([newSigningKey("RS256"), newSigningKey("ES256"), newSigningKey("EdDSA")]);
  jwks = await startJwksServer([first]);
  dir = mkdtempSync(join(tmpdir(), "sign-in-test-"));
  const keysFile = join(dir, "keys.json");
  writeFileSync(
    keysFile,
    JSON.stringify({ keys: [{ id: "backend", key: MINTER, mintTokens: true, requestsPerMinute: 0 }] }),
  );
  env = {
    INFERENCE_URL: stub.url,
    REDIS_URL,
    GATEWAY_REDIS_PREFIX: PREFIX,
    GATEWAY_KEYS_FILE: keysFile,
    GATEWAY_REQUESTS_PER_MINUTE: String(N),
    GATEWAY_TOKENS_PER_MINUTE: "100000",
    GATEWAY_JWT_JWKS_URL: jwks.url,
    GATEWAY_JWT_ISSUER: ISSUER,
    GATEWAY_JWT_AUDIENCE: AUDIENCE,
    GATEWAY_TOKEN_SECRET: TOKEN_SECRET,
  };
  [one, two] = await Promise.all([startGateway(env), startGateway(env)]);
});

afterAll(async () => {
  await stopAll();
  await stub?.close();
  await jwks?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (redis) {
    const keys = await redis.keys(`${PREFIX}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

describe("sign-in tokens across two gateways on Redis", () => {
  it("starts with sign-in on, no generated key, and the JWKS fetched once per gateway", async () => {
    for (const gw of [one, two]) {
      expect(gw.logs().find((l) => l["msg"] === "listening")).toMatchObject({
        quotaStore: "redis",
        signIn: ["jwks", "minted"],
        generatedKey: false,
      });
    }
    // Each fetched the JWKS when it started (in the background: the first token need not wait for it).
    await until(() => jwks.hits === 2);
  });

  it("gives a user one request quota across both gateways (N in total, not N each), and other users their own", async () => {
    const alice = await token(first, "alice");
    const statuses: number[] = [];
    for (let i = 0; i < 2 * N; i++) statuses.push((await get(i % 2 === 0 ? one : two, alice)).status);
    expect(statuses).toEqual([...Array<number>(N).fill(200), ...Array<number>(N).fill(429)]);
    expect((await get(two, await token(first, "bob"))).status).toBe(200);
    // The counter is in Redis under the user's hash: never the subject, never the token.
    const keys = await redis.keys(`${PREFIX}:*`);
    expect(keys).toContain(`${PREFIX}:requests:${userId(ISSUER, "alice")}`);
    expect(keys.join("\n")).not.toMatch(/alice|bob/);
  });

  it("shares a user's token quota across both gateways", async () => {
    const carol = await token(first, "carol");
    const chat = await fetch(`${one.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${carol}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "stub-model", messages: [{ role: "user", content: "hello" }], max_tokens: 8 }),
    });
    expect(chat.status).toBe(200);
    await chat.text();
    const remaining = async () => Number((await get(two, carol)).headers.get("x-ratelimit-remaining-tokens"));
    const left = await remaining();
    expect(left).toBeLessThan(100000);
    // Another user's token quota is untouched.
    expect(Number((await get(two, await token(first, "dave"))).headers.get("x-ratelimit-remaining-tokens"))).toBe(
      100000,
    );
  });

  it("accepts at one gateway the token the other minted, under one per-subject quota", async () => {
    const res = await fetch(`${one.url}/v1/auth/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${MINTER}`, "content-type": "application/json" },
      body: JSON.stringify({ subject: "user-42", ttl_seconds: 600 }),
    });
    expect(res.status).toBe(200);
    const { token: minted, expires_at } = (await res.json()) as { token: string; expires_at: number };
    issued.push(minted);
    expect(expires_at - Date.now() / 1000).toBeGreaterThan(590);
    const statuses: number[] = [];
    for (let i = 0; i < N + 1; i++) statuses.push((await get(i % 2 === 0 ? two : one, minted)).status);
    expect(statuses).toEqual([...Array<number>(N).fill(200), 429]);
    // ttl over 900: 400; a signed-in user may not mint.
    const long = await fetch(`${two.url}/v1/auth/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${MINTER}`, "content-type": "application/json" },
      body: JSON.stringify({ subject: "user-42", ttl_seconds: 901 }),
    });
    expect(long.status).toBe(400);
    const byUser = await fetch(`${two.url}/v1/auth/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${await token(first, "erin")}`, "content-type": "application/json" },
      body: JSON.stringify({ subject: "user-43" }),
    });
    expect(byUser.status).toBe(403);
  });

  it("follows a key rotation without a restart (one refetch each), then refetches at most once per 30 s", async () => {
    const hits = jwks.hits;
    jwks.publish([first, second]);
    const rotated = await token(second, "frank");
    expect((await get(one, rotated)).status).toBe(200);
    expect((await get(two, rotated)).status).toBe(200);
    expect(jwks.hits).toBe(hits + 2);
    // Rotated again within 30 s: each gateway keeps to its cooldown, and refuses the key it does not know yet.
    jwks.publish([first, second, third]);
    const again = await token(third, "grace");
    for (const gw of [one, two, one, two]) {
      const res = await get(gw, again);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    }
    expect(jwks.hits).toBe(hits + 2);
  });

  it("keeps cached keys working while the JWKS is down; a gateway without a usable key answers 503", async () => {
    jwks.down = true;
    try {
      expect((await get(one, await token(first, "heidi"))).status).toBe(200);
      expect((await get(two, await token(second, "heidi"))).status).toBe(200);
      const fresh = await startGateway(env);
      const res = await get(fresh, await token(first, "ivan"));
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("jwks_unavailable");
      // API keys are unaffected.
      expect((await get(fresh, MINTER)).status).toBe(200);
    } finally {
      jwks.down = false;
    }
  });

  it("never logs or exports a token or a raw subject; users are named by their hash", async () => {
    const alice = userId(ISSUER, "alice");
    const logged = [...one.lines, ...two.lines].join("\n");
    expect(logged).toContain(alice);
    const metrics = `${await (await one.metrics()).text()}\n${await (await two.metrics()).text()}`;
    expect(metrics).toContain(`key_id="${alice}"`);
    for (const text of [logged, metrics]) {
      for (const t of issued) expect(text).not.toContain(t);
      for (const t of issued) expect(text).not.toContain(t.split(".")[2]!);
      expect(text).not.toMatch(/\b(alice|bob|carol|frank|grace|heidi|user-42)\b/);
      expect(text).not.toContain(TOKEN_SECRET);
      expect(text).not.toContain(MINTER);
    }
  });
});
