import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { clientIpResolver } from "./client-ip.ts";
import type { GatewayEnv } from "./types.ts";

function resolve(hops: number, headers: Record<string, string>): Promise<string> {
  const app = new Hono<GatewayEnv>();
  const clientIp = clientIpResolver({ remoteAddress: () => "10.0.0.9" }, hops);
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
});
