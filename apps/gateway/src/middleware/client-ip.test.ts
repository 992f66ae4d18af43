import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { GatewayEnv } from "../types.ts";
import { addressBucket, clientIpResolver } from "./client-ip.ts";

function resolve(hops: number, headers: Record<string, string>): Promise<string> {
  const app = new Hono<GatewayEnv>();
  const clientIp = clientIpResolver({ trustProxyHops: hops, remoteAddress: () => "10.0.0.9" });
  app.get("/", (c) => c.text(clientIp(c)));
  return Promise.resolve(app.request("/", { headers })).then((r) => r.text());
}

describe("client address", () => {
  it("is the peer address unless proxies are trusted", async () => {
    expect(await resolve(0, { "x-forwarded-for": "1.2.3.4" })).toBe("10.0.0.9");
  });
  it("takes X-Forwarded-For counted from the right, so clients cannot choose it", async () => {
    expect(await resolve(1, { "x-forwarded-for": "6.6.6.6, 1.2.3.4" })).toBe("1.2.3.4");
    expect(await resolve(2, { "x-forwarded-for": "6.6.6.6, 1.2.3.4, 10.0.0.2" })).toBe("1.2.3.4");
    expect(await resolve(1, { "x-forwarded-for": "not an address" })).toBe("10.0.0.9");
    expect(await resolve(1, {})).toBe("10.0.0.9");
  });
  it("never takes a client-written entry when the header has fewer entries than trusted hops", async () => {
    // Two proxies trusted, but the request came through one: "6.6.6.6" is whatever the client wrote.
    expect(await resolve(2, { "x-forwarded-for": "6.6.6.6" })).toBe("10.0.0.9");
  });
});

describe("address buckets", () => {
  it("puts an IPv6 client's whole /64 in one bucket, IPv4 and mapped IPv4 as they are", () => {
    expect(addressBucket("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(addressBucket("2001:db8:1:2::9")).toBe("2001:db8:1:2::/64");
    expect(addressBucket("2001:0db8:0001:0002:ffff::1")).toBe("2001:db8:1:2::/64");
    expect(addressBucket("::1")).toBe("0:0:0:0::/64");
    expect(addressBucket("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(addressBucket("192.0.2.7")).toBe("192.0.2.7");
    expect(addressBucket("unknown")).toBe("unknown");
  });
});
