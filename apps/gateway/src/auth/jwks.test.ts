import { errors, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  newSigningKey,
  signToken,
  startJwksServer,
  type JwksServer,
  type SigningKey,
} from "../../test/support/jwks-server.ts";
import { createJwks } from "./jwks.ts";
import { JwksUnavailableError } from "./token-errors.ts";

/**
 * The JWKS cache against a real JWKS server on 127.0.0.1 that rotates its keys and goes down, with the cache's clock
 * in the test's hands: keys are cached, an unknown kid refetches at most once per 30 s, cached keys keep working while
 * the JWKS is unreachable (however stale), and without a usable cached key the answer is "unavailable", not "unknown".
 */

let server: JwksServer;
let first: SigningKey;
let second: SigningKey;
let third: SigningKey;

beforeAll(async () => {
  [first, second, third] = await Promise.all([newSigningKey("RS256"), newSigningKey("ES256"), newSigningKey("EdDSA")]);
  server = await startJwksServer([first]);
});

afterAll(() => server?.close());

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

async function verify(jwks: ReturnType<typeof createJwks>, token: string) {
  return jwtVerify(token, jwks.getKey, { algorithms: ["RS256", "ES256", "EdDSA"] });
}

describe("JWKS cache", () => {
  it("caches the keys, refetches once for an unknown kid (rotation without a restart), then at most once per 30 s", async () => {
    server.publish([first]);
    server.down = false;
    server.hits = 0;
    const time = clock();
    const jwks = createJwks({ url: server.url, now: time.now });
    const one = await signToken(first, { sub: "a" });

    await verify(jwks, one);
    await verify(jwks, one);
    expect(server.hits).toBe(1);

    // Rotation: the provider publishes a second key and signs with it.
    server.publish([first, second]);
    time.advance(1_000);
    await verify(jwks, await signToken(second, { sub: "a" }));
    expect(server.hits).toBe(2);

    // Another rotation within 30 s of that refetch: no fetch, the kid is unknown (a 401 for the caller).
    server.publish([first, second, third]);
    time.advance(10_000);
    const rotatedAgain = await signToken(third, { sub: "a" });
    await expect(verify(jwks, rotatedAgain)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    await expect(
      verify(jwks, await signToken(third, { sub: "b" }, { header: { kid: "never-published" } })),
    ).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(server.hits).toBe(2);

    // 30 s after the last refetch: one more.
    time.advance(20_000);
    await verify(jwks, rotatedAgain);
    expect(server.hits).toBe(3);

    // A kid that is never published: one refetch, then refused without another fetch for 30 s.
    time.advance(30_000);
    const forged = await signToken(first, { sub: "a" }, { header: { kid: "never-published" } });
    await expect(verify(jwks, forged)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    await expect(verify(jwks, forged)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(server.hits).toBe(4);
  });

  it("keeps verifying with cached keys while the JWKS is unreachable, however stale they are", async () => {
    server.publish([first]);
    server.down = false;
    server.hits = 0;
    const time = clock();
    const jwks = createJwks({ url: server.url, now: time.now });
    const token = await signToken(first, { sub: "a" });
    await verify(jwks, token);

    server.down = true;
    time.advance(3_600_000); // an hour: far past the 10-minute refresh age
    await verify(jwks, token); // the background refresh fails; the cached key still verifies
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.hits).toBe(2);
    await verify(jwks, token);
    expect(jwks.size).toBe(1);

    // A key the cache does not hold while the JWKS is down: cannot be known, so unavailable (503), not unknown (401).
    time.advance(30_000);
    await expect(verify(jwks, await signToken(second, { sub: "a" }))).rejects.toBeInstanceOf(JwksUnavailableError);
    // ... also within the cooldown of that failed refetch.
    await expect(verify(jwks, await signToken(third, { sub: "a" }))).rejects.toBeInstanceOf(JwksUnavailableError);
    server.down = false;
  });

  it("without any cached key and the JWKS unreachable: unavailable, and a fetch at most once a second", async () => {
    server.down = true;
    server.hits = 0;
    const time = clock();
    const jwks = createJwks({ url: server.url, now: time.now });
    const token = await signToken(first, { sub: "a" });
    await expect(verify(jwks, token)).rejects.toBeInstanceOf(JwksUnavailableError);
    await expect(verify(jwks, token)).rejects.toBeInstanceOf(JwksUnavailableError);
    expect(server.hits).toBe(1);
    time.advance(1_000);
    server.down = false;
    server.publish([first]);
    await verify(jwks, token);
    expect(server.hits).toBe(2);
  });

  it("refuses what is not a JWKS, and a redirect", async () => {
    const answers: Response[] = [
      new Response("not json", { status: 200 }),
      Response.json({ nokeys: true }),
      new Response(null, { status: 302, headers: { location: server.url } }),
      Response.json({ keys: [first.publicJwk] }, { status: 500 }),
    ];
    for (const answer of answers) {
      const jwks = createJwks({ url: "http://127.0.0.1:1/jwks", fetch: async () => answer });
      expect(await jwks.refresh()).toBe(false);
      await expect(verify(jwks, await signToken(first, { sub: "a" }))).rejects.toBeInstanceOf(JwksUnavailableError);
    }
  });
});
