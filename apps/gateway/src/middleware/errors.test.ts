import { describe, expect, it, vi } from "vitest";
import { testApp } from "../../test/support/test-app.ts";
import { createLogger } from "../logger.ts";

describe("error handlers", () => {
  it("answers unknown routes with a 404 envelope", async () => {
    const { app } = testApp();
    const res = await app.request("/v2/whatever");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: "Unknown request URL.", type: "invalid_request_error", param: null, code: "unknown_url" },
    });
  });

  it("answers an unexpected error with a 500 envelope and logs the real one server-side", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
    const { app } = testApp({ logger });
    app.get("/boom", () => {
      throw new Error("secret internals at /srv/app/x.ts");
    });
    const res = await app.request("/boom");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: {
        message: "The gateway failed to handle the request.",
        type: "server_error",
        param: null,
        code: "internal_error",
      },
    });
    expect(text).not.toMatch(/secret|stack|\.ts/);
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "unhandled error");
    // The message is logged, scrubbed like anything relayed (paths, addresses and URLs do not reach log lines).
    expect(logged.err.message).toBe("secret internals at [path]");
    expect(logged.err.stack).toBeUndefined(); // a stack trace never goes into a log line
  });

  it("never logs the Authorization header or the key", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
    const { app } = testApp({ logger }, { "GET /v1/models": () => Response.json({ object: "list", data: [] }) });
    await app.request("/v1/models", { headers: { authorization: "Bearer sk-test-0123456789abcdef" } });
    await app.request("/v1/models", { headers: { authorization: "Bearer sk-wrong-but-secret-123" } });
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join("\n");
    expect(all).not.toContain("sk-test-0123456789abcdef");
    expect(all).not.toContain("sk-wrong-but-secret-123");
    expect(all.toLowerCase()).not.toContain("authorization");
  });

  it("uses the default console logger when none is given", async () => {
    const spy = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const { app } = testApp({ logger: undefined });
      await app.request("/health");
      await app.request("/health");
      // Batched: both lines leave in one console.log on the next timer tick.
      expect(spy).not.toHaveBeenCalled();
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(spy).toHaveBeenCalledTimes(1);
      const lines = String(spy.mock.calls[0]?.[0]).split("\n");
      expect(lines).toHaveLength(2);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", msg: "request", path: "/health" });
    } finally {
      spy.mockRestore();
    }
  });
});
