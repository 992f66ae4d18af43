import { describe, expect, it } from "vitest";
import { CHAT, chatInit, KEY, ok, testApp } from "../../test/support/test-app.ts";
import { createPrometheusMetrics } from "./prometheus.ts";

function appWith(options: { address: string; token?: string | undefined }) {
  const { metrics, endpoint } = createPrometheusMetrics({ defaultMetrics: false });
  return testApp(
    {
      metrics,
      metricsEndpoint: endpoint,
      metricsToken: options.token,
      runtime: { remoteAddress: () => options.address },
      defaultPolicy: { requestsPerMinute: 1 },
    },
    { "POST /v1/chat/completions": ok },
  ).app;
}

const TOKEN = "metrics-token-0123456789";

describe("/metrics", () => {
  it("counts requests by route, status and key id, rate-limit refusals and upstream latency, never the key", async () => {
    const app = appWith({ address: "127.0.0.1", token: TOKEN });
    await app.request("/v1/chat/completions", chatInit(CHAT));
    await app.request("/v1/chat/completions", chatInit(CHAT));
    const res = await app.request("/metrics", { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(
      /gateway_requests_total\{route="\/v1\/chat\/completions",status="200",key_id="[0-9a-f]{12}"\} 1/,
    );
    expect(text).toMatch(
      /gateway_requests_total\{route="\/v1\/chat\/completions",status="429",key_id="[0-9a-f]{12}"\} 1/,
    );
    expect(text).toMatch(/gateway_rate_limited_total\{reason="requests"\} 1/);
    expect(text).toMatch(/gateway_upstream_latency_seconds_count\{route="\/v1\/chat\/completions",outcome="200"\} 1/);
    expect(text).toContain("gateway_open_streams 0");
    expect(text).not.toContain(KEY);
  });

  it("is never served without a token on the public listener, not even to loopback (a proxy on the same host is loopback)", async () => {
    expect((await appWith({ address: "203.0.113.5" }).request("/metrics")).status).toBe(404);
    expect((await appWith({ address: "::1" }).request("/metrics")).status).toBe(404);
    expect(
      (await appWith({ address: "127.0.0.1" }).request("/metrics", { headers: { "x-forwarded-for": "127.0.0.1" } }))
        .status,
    ).toBe(404);
  });

  it("requires the token when one is set, from anywhere", async () => {
    const app = appWith({ address: "203.0.113.5", token: "metrics-token-0123456789" });
    expect((await app.request("/metrics")).status).toBe(404);
    expect((await app.request("/metrics", { headers: { authorization: "Bearer wrong" } })).status).toBe(404);
    expect(
      (await app.request("/metrics", { headers: { authorization: "Bearer metrics-token-0123456789" } })).status,
    ).toBe(200);
  });
});
