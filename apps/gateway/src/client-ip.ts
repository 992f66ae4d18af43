import type { Context } from "hono";
import type { RuntimeAdapter } from "./runtime.ts";
import type { GatewayEnv } from "./types.ts";

/**
 * The client's address, for per-IP quotas. Behind `trustProxyHops` reverse proxies, the address those proxies put in
 * X-Forwarded-For (counted from the right: entries further left are the client's to write, so not trusted);
 * otherwise the connection's peer address.
 */
export function clientIpResolver(runtime: RuntimeAdapter, trustProxyHops: number): (c: Context<GatewayEnv>) => string {
  return function clientIp(c) {
    if (trustProxyHops > 0) {
      const forwarded = runtime.header ? runtime.header(c, "x-forwarded-for") : c.req.header("x-forwarded-for");
      if (forwarded) {
        const hops = forwarded.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
        const candidate = hops[Math.max(0, hops.length - trustProxyHops)];
        if (candidate && /^[0-9a-f.:]{2,45}$/i.test(candidate)) return candidate;
      }
    }
    return runtime.remoteAddress?.(c) ?? "unknown";
  };
}
