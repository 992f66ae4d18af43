import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { InferenceMetrics } from "../metrics.ts";
import { Readiness } from "../readiness.ts";
import { createInferenceApp, type InferenceAppOptions } from "./app.ts";

/** The app without a model (every /v1 route answers 503), its metrics, and the request log lines it wrote. */
function start(options: Partial<InferenceAppOptions> = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const metrics = new InferenceMetrics();
  const app = createInferenceApp({
    readiness: new Readiness(),
    serving: () => undefined,
    log: pino({ level: "debug" }, sink),
    metrics,
    maxBodyBytes: 1024,
    requestTimeoutMs: 1000,
    draining: () => false,
    shutdown: new AbortController().signal,
    ...options,
  });
  const requestLines = () => lines.filter((l) => l.msg === "request");
  const requestsTotal = async () =>
    (await metrics.registry.getSingleMetricAsString("inference_http_requests_total"))
      .split("\n")
      .filter((l) => !l.startsWith("#"));
  return { app, requestLines, requestsTotal };
}

const post = { method: "POST", headers: { "content-type": "application/json" }, body: "{}" };

describe("route labels of metrics and request logs", () => {
  it("labels a request with the route it matched, /v1/responses included", async () => {
    const { app, requestLines, requestsTotal } = start();
    expect((await app.request("/v1/responses", post)).status).toBe(503);
    expect((await app.request("/v1/chat/completions", post)).status).toBe(503);
    expect((await app.request("/health")).status).toBe(200);
    expect(await requestsTotal()).toEqual(
      expect.arrayContaining([
        'inference_http_requests_total{route="/v1/responses",method="POST",status="503"} 1',
        'inference_http_requests_total{route="/v1/chat/completions",method="POST",status="503"} 1',
        'inference_http_requests_total{route="/health",method="GET",status="200"} 1',
      ]),
    );
    expect(requestLines().map((l) => l.route)).toEqual(["/v1/responses", "/v1/chat/completions", "/health"]);
  });

  it("labels a request no route matches as unmatched, never as its path", async () => {
    const { app, requestLines, requestsTotal } = start();
    expect((await app.request("/v1/no-such-route%0Aforged=1")).status).toBe(404);
    expect((await app.request("/wp-login.php", post)).status).toBe(404);
    // A route's path with another method matches no route either (Hono answers 404).
    expect((await app.request("/v1/chat/completions")).status).toBe(404);
    const counted = await requestsTotal();
    expect(counted).toEqual([
      'inference_http_requests_total{route="unmatched",method="GET",status="404"} 2',
      'inference_http_requests_total{route="unmatched",method="POST",status="404"} 1',
    ]);
    expect(requestLines().map((l) => l.route)).toEqual(["unmatched", "unmatched", "unmatched"]);
    expect(JSON.stringify([counted, requestLines()])).not.toMatch(/no-such-route|wp-login/);
  });

  it("labels a request a middleware refused with the route it was meant for", async () => {
    const { app, requestsTotal } = start({ apiKey: "secret-key" });
    expect((await app.request("/v1/responses", post)).status).toBe(401);
    expect(await requestsTotal()).toEqual([
      'inference_http_requests_total{route="/v1/responses",method="POST",status="401"} 1',
    ]);
  });
});

describe("request ids", () => {
  it("keeps a caller's X-Request-Id of the safe shape, replaces any other before it reaches a log line", async () => {
    const { app, requestLines } = start();
    const ids = ["req-abc.123", "trace:4bf92f35", "a=b", "a b", "x".repeat(129), "{forged}"];
    const echoed: Array<string | null> = [];
    for (const id of ids)
      echoed.push((await app.request("/health", { headers: { "x-request-id": id } })).headers.get("x-request-id"));
    for (const id of echoed.slice(2))
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(echoed.slice(0, 2)).toEqual(["req-abc.123", "trace:4bf92f35"]);
    const logged = requestLines().map((l) => l.requestId);
    expect(logged).toEqual(echoed);
    expect(JSON.stringify(requestLines())).not.toMatch(/a=b|a b|xxxxx|forged/);
  });
});
