import { sha256Hex } from "../keys/api-key.ts";

/**
 * The quota subject of a signed-in user: `user:` and the first 32 hex digits of SHA-256 over the token's issuer and
 * subject. It is the principal id that quotas are keyed by (shared through Redis like a key's id) and that logs and
 * metrics name the user by: never the token, never the raw subject. The issuer is part of it, so one `sub` at two
 * identity providers is two users. It cannot collide with a key id ([A-Za-z0-9_.-], no colon).
 */
export async function userPrincipalId(issuer: string, subject: string): Promise<string> {
  return `user:${(await sha256Hex(`${issuer}\n${subject}`)).slice(0, 32)}`;
}
