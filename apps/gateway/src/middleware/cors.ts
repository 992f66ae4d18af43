import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { HeaderReader } from "../runtime/runtime.ts";
import type { GatewayEnv } from "../types.ts";

/**
 * CORS for browser clients, with an allowlist of origins (`*` allowed explicitly; keys are bearer tokens, never
 * cookies, so no credentials mode). Requests without an Origin header (servers, CLIs) skip it entirely: Hono's cors
 * sets headers before the handler runs, which costs a response rebuild that non-browser traffic need not pay.
 */
export interface CorsOptions {
  origins: readonly string[];
  header?: HeaderReader;
}

export const EXPOSED_HEADERS = [
  "X-Request-Id",
  "RateLimit",
  "RateLimit-Policy",
  "Retry-After",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-tokens",
];

export function corsAllowlist(options: CorsOptions): MiddlewareHandler<GatewayEnv> {
  const any = options.origins.includes("*");
  const allowed = new Set(options.origins);
  const middleware = cors({
    origin: any ? "*" : (origin) => (allowed.has(origin) ? origin : null),
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    allowHeaders: [
      "Authorization",
      "Content-Type",
      "X-Request-Id",
      "OpenAI-Organization",
      "OpenAI-Project",
      "X-Stainless-Arch",
      "X-Stainless-Lang",
      "X-Stainless-OS",
      "X-Stainless-Package-Version",
      "X-Stainless-Retry-Count",
      "X-Stainless-Runtime",
      "X-Stainless-Runtime-Version",
      "X-Stainless-Timeout",
    ],
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
  const header: HeaderReader = options.header ?? ((c, name) => c.req.header(name));
  return async function corsAllowlist(c, next) {
    if (header(c, "origin") === undefined) return next();
    return middleware(c, next);
  };
}
