import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

/**
 * An identity provider's JWKS for tests: node:http on 127.0.0.1 serving the public halves of real key pairs (RS256,
 * ES256, EdDSA, generated with jose), which the test rotates by publishing a new set. It counts its fetches, and can
 * go down (each request's connection destroyed: unreachable as far as a client can tell). `sign` issues tokens with
 * the private halves, as the provider would.
 */

export type AsymmetricAlg = "RS256" | "ES256" | "EdDSA";

export interface SigningKey {
  kid: string;
  alg: AsymmetricAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

let counter = 0;

export async function newSigningKey(
  alg: AsymmetricAlg,
  kid = `${alg.toLowerCase()}-${++counter}`,
): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk };
}

export interface TokenOptions {
  /** Overrides the protected header (e.g. another kid, or no kid at all with `kid: undefined`). */
  header?: Record<string, unknown>;
  /** Seconds from now; default 300. */
  expiresIn?: number;
}

/** A token signed with `key`: `iat` now, `exp` in `expiresIn` s, plus `claims` (which win). */
export async function signToken(key: SigningKey, claims: JWTPayload, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + (options.expiresIn ?? 300), ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...options.header } as { alg: string })
    .sign(key.privateKey);
}

/** An HS256 token with a shared secret (as Supabase issues). */
export async function signHs256(secret: string | Uint8Array, claims: JWTPayload, expiresIn = 300): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + expiresIn, ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(typeof secret === "string" ? new TextEncoder().encode(secret) : secret);
}

export interface JwksServer {
  url: string;
  /** GETs served (or refused while down). */
  hits: number;
  /** Replaces the published set. */
  publish(keys: readonly SigningKey[]): void;
  /** While true, every request's connection is destroyed. */
  down: boolean;
  close(): Promise<void>;
}

export async function startJwksServer(keys: readonly SigningKey[]): Promise<JwksServer> {
  let published = JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
  const state = { hits: 0, down: false };
  const server: Server = createServer((req, res) => {
    state.hits++;
    if (state.down) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { "content-type": "application/jwk-set+json", "cache-control": "max-age=300" });
    res.end(published);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get hits() {
      return state.hits;
    },
    set hits(n: number) {
      state.hits = n;
    },
    publish(next) {
      published = JSON.stringify({ keys: next.map((k) => k.publicJwk) });
    },
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
