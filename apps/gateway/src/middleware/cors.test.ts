import { describe, expect, it } from "vitest";
import { CHAT, chatInit, ok, testApp } from "../../test/support/test-app.ts";

describe("CORS", () => {
  const { app } = testApp({ corsOrigins: ["https://app.example"] }, { "POST /v1/chat/completions": ok });

  it("answers a preflight from an allowed origin", async () => {
    const res = await app.request("/v1/chat/completions", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
  });

  it("lets an allowed origin read the answer and its rate-limit headers", async () => {
    const res = await app.request("/v1/chat/completions", chatInit(CHAT, { origin: "https://app.example" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("access-control-expose-headers")).toContain("RateLimit");
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("gives another origin nothing to read, and requests without Origin no CORS headers", async () => {
    const evil = await app.request("/v1/chat/completions", chatInit(CHAT, { origin: "https://evil.example" }));
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const server = await app.request("/v1/chat/completions", chatInit(CHAT));
    expect(server.headers.get("access-control-allow-origin")).toBeNull();
    expect(server.headers.get("access-control-expose-headers")).toBeNull();
  });

  it("is off without configured origins", async () => {
    const { app: closed } = testApp({}, { "POST /v1/chat/completions": ok });
    const res = await closed.request("/v1/chat/completions", chatInit(CHAT, { origin: "https://app.example" }));
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
