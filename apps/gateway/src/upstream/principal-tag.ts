import type { MiddlewareHandler } from "hono";
import type { GatewayEnv, Principal } from "../types.ts";

/**
 * Who a request is for, as inference sees it: `X-Slm-Principal`, by which inference serves its queue in turn (one
 * principal's backlog waits behind the others' next requests, not in front of them). Never the key and never the
 * principal's id itself: an HMAC-SHA-256 of its kind and id, keyed with the internal inference key (so every gateway
 * of a deployment sends the same tag for the same principal, and a client address cannot be recovered from it), or
 * with a random per-process key without one. Sent only to inference.
 */

export const PRINCIPAL_HEADER = "x-slm-principal";
/** Tags kept per process; a client-address principal is one per address, so the cache starts over past this. */
const MAX_CACHED = 10_000;
const encoder = new TextEncoder();

export type PrincipalTagger = (principal: Pick<Principal, "kind" | "id">) => Promise<string>;

export function createPrincipalTagger(secret?: string): PrincipalTagger {
  const keyBytes = secret !== undefined ? encoder.encode(secret) : crypto.getRandomValues(new Uint8Array(32));
  const key = crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const cache = new Map<string, string>();
  return async (principal) => {
    const name = `${principal.kind}:${principal.id}`;
    const cached = cache.get(name);
    if (cached !== undefined) return cached;
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await key, encoder.encode(`slm-principal\0${name}`)));
    let tag = "";
    for (const byte of mac.subarray(0, 12)) tag += byte.toString(16).padStart(2, "0");
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(name, tag);
    return tag;
  };
}

/** Sets `principalTag` for the forwarder (which sends it to inference as `X-Slm-Principal`). */
export function tagPrincipal(tagger: PrincipalTagger): MiddlewareHandler<GatewayEnv> {
  return async function tagPrincipal(c, next) {
    c.set("principalTag", await tagger(c.get("principal")));
    return next();
  };
}
