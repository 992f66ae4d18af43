import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { testApp } from "../../test/support/test-app.ts";
import { silentLogger } from "../logger.ts";
import { notFound, onError } from "../middleware/index.ts";
import type { GatewayEnv } from "../types.ts";
import { bundlePlayground } from "./bundle-playground.ts";
import { servePlayground, type PlaygroundAssets } from "./serve-playground.ts";

const CSP =
  "default-src 'self'; connect-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

function mounted(load: () => Promise<PlaygroundAssets>) {
  const app = new Hono<GatewayEnv>();
  app.route("/playground", servePlayground({ load, logger: silentLogger }));
  app.notFound(notFound());
  app.onError(onError({ logger: silentLogger }));
  return app;
}

const built = bundlePlayground();

describe("the playground bundle", () => {
  it("has the page, its script and its stylesheet, and the page loads only those, with no inline code", async () => {
    const assets = await built;
    expect([...assets.keys()].sort()).toEqual(["index.html", "main.js", "style.css"]);
    const html = assets.get("index.html")!.body;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => m[1]?.trim())).toEqual(['type="module" src="main.js"']);
    expect(scripts.every((m) => m[2] === "")).toBe(true);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
    expect([...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1])).toEqual([
      "data:,",
      "style.css",
      "main.js",
    ]);
    // Nothing from another origin: no absolute URL anywhere in what the browser gets.
    for (const [name, asset] of assets) expect(asset.body, name).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
  });
});

describe("servePlayground", () => {
  it("serves the page under the strict CSP, revalidated by ETag", async () => {
    const app = mounted(() => built);
    const res = await app.request("/playground/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toBe(CSP);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(await res.text()).toContain("<title>slm-serve playground</title>");

    const tag = res.headers.get("etag");
    expect(tag).toBeTruthy();
    const again = await app.request("/playground/", { headers: { "if-none-match": tag! } });
    expect(again.status).toBe(304);
  });

  it("serves the script and stylesheet with their types, redirects /playground, and 404s anything else", async () => {
    const app = mounted(() => built);
    const js = await app.request("/playground/main.js");
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("content-security-policy")).toBe(CSP);
    expect(await js.text()).toContain("/v1/chat/completions");
    expect((await app.request("/playground/style.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");

    const bare = await app.request("/playground");
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe("/playground/");

    const missing = await app.request("/playground/secrets.json");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "unknown_url" } });
  });

  it("answers 503 in the error envelope when the page cannot be built, and tries again on the next request", async () => {
    let calls = 0;
    const app = mounted(async () => {
      calls += 1;
      if (calls === 1) throw new Error("esbuild failed at /secret/path");
      return built;
    });
    const failed = await app.request("/playground/");
    expect(failed.status).toBe(503);
    const text = await failed.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: "playground_unavailable", type: "service_unavailable" } });
    expect(text).not.toContain("/secret/path");
    expect((await app.request("/playground/")).status).toBe(200);
    expect(calls).toBe(2);
  });
});

describe("the gateway's playground option", () => {
  it("mounts the page only when enabled", async () => {
    expect((await testApp().app.request("/playground/")).status).toBe(404);
    const res = await testApp({ playground: true }).app.request("/playground/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toBe(CSP);
  });
});
