import { describe, expect, it } from "vitest";
import { testApp } from "../../test/support/test-app.ts";

describe("health and readiness", () => {
  it("GET /health answers ok without touching inference", async () => {
    const { app, upstream } = testApp();
    const res = await app.request("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(upstream.calls).toHaveLength(0);
  });

  it("GET /ready is 200 when inference is ready", async () => {
    const { app, upstream } = testApp({}, { "GET /ready": () => Response.json({ status: "ready", model: "m" }) });
    const res = await app.request("/ready");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready" });
    expect(upstream.last()!.url).toBe("http://inference.internal:8081/ready");
  });

  it("GET /ready is 503 when inference is not ready, without its body", async () => {
    const { app } = testApp(
      {},
      {
        "GET /ready": () =>
          Response.json({ status: "loading", detail: "downloading from https://hub.internal/x" }, { status: 503 }),
      },
    );
    const res = await app.request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "not_ready" });
  });

  it("GET /ready answers a flood of probes from the last check, not with a probe each", async () => {
    let probes = 0;
    const { app } = testApp(
      { healthIntervalMs: 60_000 },
      {
        "GET /ready": () => {
          probes++;
          return Response.json({ status: "ready" });
        },
      },
    );
    const answers = await Promise.all(Array.from({ length: 50 }, () => app.request("/ready")));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    for (let i = 0; i < 50; i++) expect((await app.request("/ready")).status).toBe(200);
    expect(probes).toBe(1);
  });

  it("GET /ready is 503 when inference is unreachable", async () => {
    const { app } = testApp({ fetch: () => Promise.reject(new TypeError("fetch failed")) });
    const res = await app.request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "unavailable" });
  });
});
