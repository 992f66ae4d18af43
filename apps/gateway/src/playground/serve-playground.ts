import { ApiError } from "@slm/config";
import { Hono } from "hono";
import { etag } from "hono/etag";
import { secureHeaders } from "hono/secure-headers";
import { silentLogger, type Logger } from "../logger.ts";
import type { GatewayEnv } from "../types.ts";

/**
 * The browser playground, mounted at /playground: one HTML page, one script, one stylesheet, all from this origin,
 * under a Content-Security-Policy that allows nothing else (no inline script or style, no other origin to connect
 * to, no framing). The page is public; what it calls (/v1/*) needs an API key as usual.
 * Web-standard: the assets come from `load` (by default the esbuild bundle, imported only on first use).
 */

export interface PlaygroundAsset {
  body: string;
  contentType: string;
}

/** By file name: `index.html`, `main.js`, `style.css`. */
export type PlaygroundAssets = ReadonlyMap<string, PlaygroundAsset>;

export interface PlaygroundOptions {
  /** Default: build the page from `playground/` with esbuild. */
  load?: () => Promise<PlaygroundAssets>;
  logger?: Logger;
}

const SELF = "'self'";

/** The policy every playground response carries. */
export const PLAYGROUND_CSP = {
  defaultSrc: [SELF],
  connectSrc: [SELF],
  scriptSrc: [SELF],
  styleSrc: [SELF],
  imgSrc: [SELF, "data:"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: [SELF],
};

const loadBundle = async (): Promise<PlaygroundAssets> => (await import("./bundle-playground.ts")).bundlePlayground();

const unavailable = () =>
  new ApiError(503, "service_unavailable", "playground_unavailable", "The playground is unavailable.");

export function servePlayground(options: PlaygroundOptions = {}): Hono<GatewayEnv> {
  const load = options.load ?? loadBundle;
  const logger = options.logger ?? silentLogger;
  let assets: Promise<PlaygroundAssets> | undefined;
  const getAssets = (): Promise<PlaygroundAssets> => {
    assets ??= load().catch((err: unknown) => {
      assets = undefined; // the next request tries again
      logger.error("playground build failed", { err });
      throw unavailable();
    });
    return assets;
  };

  const app = new Hono<GatewayEnv>();
  app.use(secureHeaders({ contentSecurityPolicy: PLAYGROUND_CSP }));
  app.use(etag());
  // Relative asset URLs in the page need the trailing slash.
  app.get("/", (c) => c.redirect("/playground/", 308));
  app.get("/:file{(?:index\\.html|main\\.js|style\\.css)?}", async (c) => {
    const asset = (await getAssets()).get(c.req.param("file") || "index.html");
    if (asset === undefined) return c.notFound();
    // Revalidated on every load (cheap, with the ETag), so a new gateway version never runs an old script.
    c.header("Cache-Control", "no-cache");
    c.header("Content-Type", asset.contentType);
    return c.body(asset.body);
  });
  return app;
}
