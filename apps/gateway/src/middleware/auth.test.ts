import { describe, expect, it } from "vitest";
import { CHAT, chatInit, KEY, ok, testApp } from "../../test/support/test-app.ts";
import { generateApiKey, resolveApiKeys } from "../keys/api-key.ts";
import { createQuotaStore } from "../quota/quota-store.ts";

const routes = { "POST /v1/chat/completions": ok, "GET /v1/models": () => Response.json({ object: "list", data: [] }) };

async function expectUnauthorized(res: Response) {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = await res.json();
  expect(body).toEqual({
    error: { message: expect.any(String), type: "authentication_error", param: null, code: "invalid_api_key" },
  });
  return body as { error: { message: string } };
}

describe("apiKeyAuth", () => {
  it("refuses a request without a key", async () => {
    const { app, upstream } = testApp({}, routes);
    const res = await app.request("/v1/models");
    const body = await expectUnauthorized(res);
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    expect(body.error.message).toMatch(/Authorization/);
    expect(upstream.calls).toHaveLength(0);
  });

  it.each([
    ["a wrong key of the same length", "sk-test-0123456789abcdeX"],
    ["a shorter key", "sk-test"],
    ["a longer key", `${KEY}-and-more`],
    ["the key with another scheme", null],
  ])("refuses %s, without echoing it", async (_label, key) => {
    const { app, upstream } = testApp({}, routes);
    const authorization = key === null ? `Basic ${KEY}` : `Bearer ${key}`;
    const res = await app.request("/v1/chat/completions", chatInit(CHAT, { authorization }));
    const body = await expectUnauthorized(res);
    expect(JSON.stringify(body)).not.toContain(key ?? KEY);
    expect(upstream.calls).toHaveLength(0);
  });

  it("accepts the right key (scheme case-insensitive)", async () => {
    const { app } = testApp({}, routes);
    expect((await app.request("/v1/models", { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
    expect((await app.request("/v1/models", { headers: { authorization: `bearer ${KEY}` } })).status).toBe(200);
  });

  it("accepts any of several keys", async () => {
    const other = "sk-other-key-0123456789";
    const { app } = testApp({ apiKeys: [KEY, other] }, routes);
    expect((await app.request("/v1/models", { headers: { authorization: `Bearer ${other}` } })).status).toBe(200);
  });

  it("checks the key before reading the body", async () => {
    const { app } = testApp({}, routes);
    const res = await app.request("/v1/chat/completions", { method: "POST", body: "x".repeat(10_000) });
    expect(res.status).toBe(401);
  });

  it("fails closed with no keys and anonymous access disabled", async () => {
    const { app, upstream } = testApp({ apiKeys: [] }, routes);
    await expectUnauthorized(await app.request("/v1/models"));
    await expectUnauthorized(
      await app.request("/v1/models", { headers: { authorization: "Bearer anything-at-all-123" } }),
    );
    expect(upstream.calls).toHaveLength(0);
  });

  it("lets everything through with no keys and anonymous access enabled", async () => {
    const { app } = testApp({ apiKeys: [], allowAnonymous: true }, routes);
    expect((await app.request("/v1/models")).status).toBe(200);
    expect((await app.request("/v1/models", { headers: { authorization: "Bearer sk-no-key-required" } })).status).toBe(
      200,
    );
  });

  it("with keys and anonymous access, allows no key but still refuses a wrong one", async () => {
    const { app } = testApp({ allowAnonymous: true }, routes);
    expect((await app.request("/v1/models")).status).toBe(200);
    await expectUnauthorized(
      await app.request("/v1/models", { headers: { authorization: "Bearer sk-wrong-key-123456" } }),
    );
  });

  it("with keys, anonymous requests get only the models GATEWAY_ANONYMOUS_MODELS names (none by default)", async () => {
    const chat = (body: object) => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const ask = { model: "m", messages: [{ role: "user", content: "hi" }] };
    const closed = testApp({ allowAnonymous: true }, { "POST /v1/chat/completions": () => Response.json({}) }).app;
    expect(((await (await closed.request("/v1/models")).json()) as { data: unknown[] }).data).toEqual([]);
    expect((await closed.request("/v1/chat/completions", chat(ask))).status).toBe(404);
    const open = testApp(
      { allowAnonymous: true, anonymousModels: ["m"] },
      { "POST /v1/chat/completions": () => Response.json({}) },
    ).app;
    const answer = await open.request("/v1/chat/completions", chat(ask));
    expect(answer.status, await answer.clone().text()).toBe(200);
  });

  it("does not guard /health and /ready", async () => {
    const { app } = testApp({}, { "GET /ready": () => new Response("ok") });
    expect((await app.request("/health")).status).toBe(200);
    expect((await app.request("/ready")).status).toBe(200);
  });
});

describe("generateApiKey / resolveApiKeys", () => {
  it("generates sk-slm- plus 32 random bytes in base64url", () => {
    const key = generateApiKey();
    expect(key).toMatch(/^sk-slm-[A-Za-z0-9_-]{43}$/);
    expect(generateApiKey()).not.toBe(key);
  });

  it("generates a key only when none is configured and anonymous access is off", () => {
    expect(resolveApiKeys({ apiKeys: ["k".repeat(16)], allowAnonymous: false })).toEqual({
      apiKeys: ["k".repeat(16)],
      generatedKey: undefined,
    });
    expect(resolveApiKeys({ apiKeys: [], allowAnonymous: true })).toEqual({ apiKeys: [], generatedKey: undefined });
    const generated = resolveApiKeys({ apiKeys: [], allowAnonymous: false });
    expect(generated.generatedKey).toMatch(/^sk-slm-/);
    expect(generated.apiKeys).toEqual([generated.generatedKey]);
  });
});

describe("with the quota store failing closed", () => {
  it("answers every request 503, a failed sign-in too (never a 500)", async () => {
    const quotaStore = createQuotaStore({ redis: { status: "end", defineCommand() {} }, failure: "closed" });
    const { app, upstream } = testApp({ quotaStore, ipRequestsPerMinute: 5, defaultPolicy: { requestsPerMinute: 5 } });
    const responses = [
      await app.request("/v1/chat/completions", chatInit(CHAT, { authorization: "Bearer sk-wrong-key-0123456789" })),
      await app.request("/v1/chat/completions", chatInit(CHAT, { authorization: "Basic abc" })),
      await app.request("/v1/models"),
      await app.request("/v1/chat/completions", chatInit(CHAT)),
    ];
    for (const res of responses) {
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("rate_limiter_unavailable");
    }
    expect(upstream.api()).toHaveLength(0);
  });
});
