import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWatchedBrowser, type WatchedBrowser } from "./support/browser.ts";
import { startGateway, stopAll, type GatewayProcess } from "./support/gateway-process.ts";
import { startStubInference, type StubInference } from "./support/stub-inference.ts";

/**
 * The playground signing in with a minted token instead of a pasted key, in Debian's Chromium (headless, driven by
 * playwright-core, as browser-playground.test.ts). The test plays the app's backend: it holds the only API key (one
 * whose policy has `mintTokens`), mints a short-lived token for its user with POST /v1/auth/tokens and links the page
 * to `/playground/#token=<token>`. The page must sign in with it (models listed, a chat streamed, every request counted
 * against the user, not the key), take it out of the address, keep it in the tab only, and show the gateway's refusal
 * of an expired one. The backend's key never reaches the browser.
 */

const MINTER = `sk-backend-${randomBytes(12).toString("hex")}`;
const TOKEN_SECRET = randomBytes(32).toString("base64url");

let stub: StubInference;
let gateway: GatewayProcess;
let browser: WatchedBrowser;
let page: Page;
let dir: string;

async function mint(subject: string, ttlSeconds: number): Promise<{ token: string; expires_at: number }> {
  const res = await fetch(`${gateway.url}/v1/auth/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${MINTER}`, "content-type": "application/json" },
    body: JSON.stringify({ subject, ttl_seconds: ttlSeconds }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { token: string; expires_at: number };
}

const userId = (sub: string) => `user:${createHash("sha256").update(`slm-gateway\n${sub}`).digest("hex").slice(0, 32)}`;

beforeAll(async () => {
  stub = await startStubInference();
  dir = mkdtempSync(join(tmpdir(), "playground-sign-in-"));
  const keysFile = join(dir, "keys.json");
  writeFileSync(keysFile, JSON.stringify({ keys: [{ id: "app-backend", key: MINTER, mintTokens: true }] }));
  gateway = await startGateway({
    INFERENCE_URL: stub.url,
    GATEWAY_KEYS_FILE: keysFile,
    GATEWAY_TOKEN_SECRET: TOKEN_SECRET,
    GATEWAY_JWT_CLOCK_SKEW_S: "0",
    GATEWAY_PLAYGROUND: "1",
  });

  browser = await openWatchedBrowser({
    userDataDir: join(dir, "chromium"),
    // Chromium reports the deliberate expired-token 401 below as a failed resource load.
    allowedConsole: "Failed to load resource: the server responded with a status of 401",
  });
  page = browser.page;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stopAll();
  await stub?.close();
  if (dir) await rm(dir, { recursive: true, force: true }).catch(() => rmSync(dir, { recursive: true, force: true }));
});

describe("the playground signs in with a minted token", () => {
  it("signs in from #token=, lists the models, streams a chat as the user, and keeps the token out of the address", async () => {
    const { token, expires_at } = await mint("player-1", 600);
    const response = await page.goto(`${gateway.url}/playground/#token=${token}`);
    expect(response?.status()).toBe(200);

    await expect
      .poll(() => page.locator("#model option").allTextContents(), { timeout: 10_000 })
      .toEqual(["stub-model", "slow", "dying"]);
    // The expiry as the page shows it (in the browser's locale: only its presence is checked here).
    expect(expires_at).toBeGreaterThan(Date.now() / 1000);
    expect(await page.textContent("#status")).toMatch(
      /^Signed in with a token valid until \S.*\. Connected\. 3 models served\.$/,
    );
    // Out of the address at once; kept in this tab only.
    expect(page.url()).toBe(`${gateway.url}/playground/`);
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([token]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await browser.context.cookies()).toEqual([]);

    await page.selectOption("#model", "stub-model");
    await page.fill("#prompt", "Hello there");
    await page.click("#send");
    await expect.poll(() => page.getAttribute("#stats", "data-state"), { timeout: 20_000 }).toBe("done");
    expect(((await page.locator(".message.assistant").last().textContent()) ?? "").length).toBeGreaterThan(0);

    // Every /v1 request the page made carried the token and counted against the user, never against the key.
    await browser.settled();
    const api = browser.requested.filter((r) => new URL(r.url).pathname.startsWith("/v1/"));
    expect(api.map((r) => new URL(r.url).pathname)).toEqual(["/v1/models", "/v1/chat/completions"]);
    expect(api.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
    const logged = gateway.logs().filter((l) => l["msg"] === "request" && String(l["path"]).startsWith("/v1/"));
    expect(logged.filter((l) => l["path"] !== "/v1/auth/tokens").map((l) => [l["path"], l["keyId"]])).toEqual([
      ["/v1/models", userId("player-1")],
      ["/v1/chat/completions", userId("player-1")],
    ]);
    expect(gateway.lines.join("\n")).not.toContain(token);
    expect(browser.requested.filter((r) => new URL(r.url).origin !== new URL(gateway.url).origin)).toEqual([]);
    expect(browser.problems).toEqual([]);
  }, 60_000);

  it("signs in with a pasted token, and shows the gateway's refusal of an expired one", async () => {
    const fresh = await mint("player-2", 600);
    await page.fill("#api-key", fresh.token);
    await page.click("#key-use");
    await expect.poll(() => page.textContent("#status"), { timeout: 10_000 }).toMatch(/^Signed in with a token/);

    const expiring = await mint("player-3", 1);
    await new Promise((resolve) => setTimeout(resolve, (expiring.expires_at + 1) * 1000 - Date.now()));
    await page.fill("#api-key", expiring.token);
    await page.click("#key-use");
    await expect
      .poll(() => page.textContent("#status"), { timeout: 10_000 })
      .toContain("The token has expired. (401 invalid_token)");
    expect(await page.isEnabled("#send")).toBe(false);

    // The backend's key never reached the browser.
    await browser.settled();
    expect([...browser.seen, await page.content()].join("\n")).not.toContain(MINTER);
    expect(browser.problems).toEqual([]);
  }, 60_000);
});
