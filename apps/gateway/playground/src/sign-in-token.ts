/**
 * Sign-in tokens in the page: a short-lived JWT (minted by the gateway for an app's user, or issued by the app's
 * identity provider) used instead of an API key, as the same `Authorization: Bearer` credential. An app hands one over
 * in the address's fragment, `/playground/#token=<jwt>` (a fragment is never sent to any server); the page keeps it
 * like a pasted key and removes it from the address at once. Its expiry is read for display only, without verifying
 * anything: the gateway decides.
 */

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Whether a credential is a sign-in token (three dot-separated parts) rather than an API key. */
export function isSignInToken(credential: string): boolean {
  return JWT.test(credential);
}

/** The token in a fragment like `#token=<jwt>`, or null. */
export function signInTokenFromFragment(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, "")).get("token");
  return token !== null && isSignInToken(token) ? token : null;
}

/** When the token says it expires (`exp`), or null when it does not say or cannot be read. */
export function tokenExpiry(token: string): Date | null {
  if (!isSignInToken(token)) return null;
  try {
    const part = token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const payload = JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "="))) as { exp?: unknown };
    return typeof payload.exp === "number" && Number.isFinite(payload.exp) ? new Date(payload.exp * 1000) : null;
  } catch {
    return null;
  }
}
