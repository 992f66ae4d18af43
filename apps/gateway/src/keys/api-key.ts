/** Key material: hashing, the `sha256:<hex>` form for pre-hashed keys, and generating new keys. */

export const SHA256_PREFIX = "sha256:";
const HEX_DIGEST = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();

export async function sha256Hex(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** The digest of a configured key: `sha256:<64 hex>` as given (lowercased), anything else hashed as a plain key. */
export async function keyDigest(spec: string): Promise<string> {
  if (spec.slice(0, SHA256_PREFIX.length).toLowerCase() === SHA256_PREFIX) {
    const hex = spec.slice(SHA256_PREFIX.length).toLowerCase();
    if (!HEX_DIGEST.test(hex)) throw new TypeError("a sha256: key needs 64 hex digits");
    return hex;
  }
  return sha256Hex(spec);
}

/** A random key: `sk-slm-` + 32 random bytes, base64url. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes));
  return `sk-slm-${b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

/** Constant-time equality of two equal-length hex strings. */
export function timingSafeEqualHex(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The plain-env keys a runtime entry point should start with: the configured ones, or - with no key configured (env
 * or file), no sign-in tokens (an identity provider or a token secret) and anonymous access not explicitly enabled -
 * one generated key, which the caller must show once.
 */
export function resolveApiKeys(config: {
  apiKeys: readonly string[];
  keysFile?: string | undefined;
  allowAnonymous: boolean;
  jwt?: object | undefined;
  mintedTokens?: object | undefined;
}): {
  apiKeys: string[];
  generatedKey: string | undefined;
} {
  const signIn = config.jwt !== undefined || config.mintedTokens !== undefined;
  if (config.apiKeys.length > 0 || config.keysFile !== undefined || config.allowAnonymous || signIn) {
    return { apiKeys: [...config.apiKeys], generatedKey: undefined };
  }
  const generatedKey = generateApiKey();
  return { apiKeys: [generatedKey], generatedKey };
}
