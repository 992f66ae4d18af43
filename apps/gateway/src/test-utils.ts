import type { GatewayAppOptions } from "./app.ts";
import { createGatewayApp } from "./app.ts";
import { silentLogger } from "./logger.ts";
import type { Fetch } from "./types.ts";

/** Helpers for the colocated unit tests: an app with a fake inference service behind an injected fetch. */

export const KEY = "sk-test-0123456789abcdef";
export const INFERENCE_URL = "http://inference.internal:8081";

export interface UpstreamCall {
  url: string;
  path: string;
  method: string;
  headers: Headers;
  body: string | undefined;
  signal: AbortSignal | undefined;
}

export type UpstreamRoute = (call: UpstreamCall) => Response | Promise<Response>;

export function fakeUpstream(routes: Record<string, UpstreamRoute> = {}) {
  const calls: UpstreamCall[] = [];
  const fetch: Fetch = async (url, init) => {
    const call: UpstreamCall = {
      url,
      path: new URL(url).pathname,
      method: init.method ?? "GET",
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? init.body : undefined,
      signal: init.signal ?? undefined,
    };
    calls.push(call);
    const route = routes[`${call.method} ${call.path}`];
    if (!route) return Response.json({ error: { message: "no route", type: "not_found_error", param: null, code: null } }, { status: 404 });
    return route(call);
  };
  return { calls, fetch, last: () => calls.at(-1) };
}

export function testApp(overrides: Partial<GatewayAppOptions> = {}, routes: Record<string, UpstreamRoute> = {}) {
  const upstream = fakeUpstream(routes);
  const app = createGatewayApp({
    inferenceUrl: INFERENCE_URL,
    apiKeys: [KEY],
    allowAnonymous: false,
    limits: { maxBodyBytes: 4096, maxTokens: 256, upstreamTimeoutMs: 5000 },
    fetch: upstream.fetch,
    logger: silentLogger,
    ...overrides,
  });
  return { app, upstream };
}

export const CHAT = { model: "m", messages: [{ role: "user", content: "hi" }] };

export function chatInit(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

export const COMPLETION = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "m",
  system_fingerprint: null,
  choices: [{ index: 0, message: { role: "assistant", content: "hello", refusal: null }, finish_reason: "stop", logprobs: null }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
};

export const ok = (): Response => Response.json(COMPLETION);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
