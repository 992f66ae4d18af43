import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { describe, expect, it } from "vitest";
import { CHAT, chatInit, ok, testApp } from "../../test/support/test-app.ts";
import { SECURE_HEADERS } from "./response-headers.ts";

describe("response headers", () => {
  it("are exactly Hono's secureHeaders() defaults", async () => {
    const app = new Hono();
    app.use(secureHeaders());
    app.get("/", (c) => c.body(null, 204));
    const res = await app.request("/");
    const fromHono = Object.fromEntries([...res.headers].filter(([name]) => name !== "content-type"));
    expect(fromHono).toEqual(Object.fromEntries(Object.entries(SECURE_HEADERS).map(([k, v]) => [k.toLowerCase(), v])));
  });

  it("are on relayed answers, errors and local routes alike", async () => {
    const { app } = testApp({}, { "POST /v1/chat/completions": ok });
    for (const res of [
      await app.request("/v1/chat/completions", chatInit(CHAT)),
      await app.request("/v1/chat/completions", chatInit("{bad")),
      await app.request("/health"),
      await app.request("/nope"),
    ]) {
      for (const [name, value] of Object.entries(SECURE_HEADERS)) expect(res.headers.get(name)).toBe(value);
      expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
