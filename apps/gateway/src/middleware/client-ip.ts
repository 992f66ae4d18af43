import type { Context } from "hono";
import type { HeaderReader, RuntimeAdapter } from "../runtime/runtime.ts";
import type { GatewayEnv } from "../types.ts";

/**
 * The client's address, for per-IP quotas. Behind `trustProxyHops` reverse proxies, the address those proxies put in
 * X-Forwarded-For (counted from the right: entries further left are the client's to write, so not trusted); when the
 * header has fewer entries than trusted hops, every entry may be the client's own, so the peer address is used.
 * Otherwise the connection's peer address.
 */
export interface ClientIpOptions {
  /** Reverse proxies in front of the gateway that append to X-Forwarded-For. Default 0: the peer address. */
  trustProxyHops?: number;
  header?: HeaderReader;
  /** The connection's peer address (the runtime's). Without it, and without a trusted header: "unknown". */
  remoteAddress?: RuntimeAdapter["remoteAddress"];
}

export function clientIpResolver(options: ClientIpOptions = {}): (c: Context<GatewayEnv>) => string {
  const trustProxyHops = options.trustProxyHops ?? 0;
  const header: HeaderReader = options.header ?? ((c, name) => c.req.header(name));
  const remoteAddress = options.remoteAddress;
  return function clientIp(c) {
    if (trustProxyHops > 0) {
      const forwarded = header(c, "x-forwarded-for");
      if (forwarded) {
        const hops = forwarded
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
        const candidate = hops.length >= trustProxyHops ? hops[hops.length - trustProxyHops] : undefined;
        if (candidate && /^[0-9a-f.:]{2,45}$/i.test(candidate)) return candidate;
      }
    }
    return remoteAddress?.(c) ?? "unknown";
  };
}

/**
 * The quota bucket of an address: IPv4 as is, IPv6 by its /64 (one subscriber's whole prefix: a client rotating
 * through its 2^64 addresses is still one client). IPv4-mapped IPv6 is the IPv4 address.
 */
export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(":")) return address;
  const [head = "", tail] = address.toLowerCase().split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return address;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
