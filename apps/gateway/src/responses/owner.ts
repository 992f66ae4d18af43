import { sha256Hex } from "../keys/api-key.ts";
import type { Principal } from "../types.ts";

/**
 * Whose a stored response is: the principal that created it - an API key (its id), a signed-in user (`user:<hash>` of
 * issuer and subject), or, for an anonymous request (GATEWAY_ALLOW_ANONYMOUS), the client's address bucket (IPv4, or
 * an IPv6 /64: see middleware/client-ip.ts). Stored as a hash (32 hex digits of SHA-256), so that the store holds no
 * key id and no client address. Every read is scoped by it: someone else's response is a missing one.
 */
export async function ownerOf(principal: Pick<Principal, "kind" | "id">): Promise<string> {
  return (await sha256Hex(`slm-responses\0${principal.kind}:${principal.id}`)).slice(0, 32);
}
