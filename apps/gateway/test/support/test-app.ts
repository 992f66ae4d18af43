import type { GatewayAppOptions } from "../../src/app.ts";
import { createGatewayApp } from "../../src/app.ts";
import { silentLogger } from "../../src/logger.ts";
import type { Fetch, UpstreamInit } from "../../src/types.ts";

/** Helpers for the colocated unit tests: an app with a fake inference service behind an injected fetch. */

export const KEY = "sk-test-0123456789abcdef";
export const INFERENCE_URL = "http://inference.internal:8081";
export const MODELS = { object: "list", data: [{ id: "m", object: "model", created: 1, owned_by: "me" }] };

export interface UpstreamCall {
  url: string;
  path: string;
  method: string;
  headers: Headers;
  body: string | undefined;
  signal: AbortSignal | undefined;
}

export type UpstreamRoute = (call: UpstreamCall) => Response | Promise<Response>;

/** A fake inference: routes by "METHOD /path"; GET /v1/models serves model "m" unless a route says otherwise. */
export function fakeUpstream(routes: Record<string, UpstreamRoute> = {}) {
  const calls: UpstreamCall[] = [];
  const all: Record<string, UpstreamRoute> = {
    "GET /v1/models": () => Response.json(MODELS),
    "GET /ready": () => Response.json({ status: "ready" }),
    ...routes,
  };
  const fetch: Fetch = async (url: string, init: UpstreamInit) => {
    const call: UpstreamCall = {
      url,
      path: new URL(url).pathname,
      method: init.method,
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? init.body : undefined,
      signal: init.signal,
    };
    calls.push(call);
    const route = all[`${call.method} ${call.path}`];
    if (!route)
      return Response.json(
        { error: { message: "no route", type: "not_found_error", param: null, code: null } },
        { status: 404 },
      );
    return route(call);
  };
  /** Calls other than the model list (which the gateway caches). */
  const api = () => calls.filter((c) => c.path !== "/v1/models");
  return { calls, api, fetch, last: () => api().at(-1) };
}

export type TestAppOverrides = Partial<Omit<GatewayAppOptions, "limits">> & {
  limits?: Partial<GatewayAppOptions["limits"]>;
};

export function testApp(overrides: TestAppOverrides = {}, routes: Record<string, UpstreamRoute> = {}) {
  const upstream = fakeUpstream(routes);
  const { limits, ...rest } = overrides;
  const app = createGatewayApp({
    inferenceUrls: [INFERENCE_URL],
    apiKeys: [KEY],
    allowAnonymous: false,
    fetch: upstream.fetch,
    logger: silentLogger,
    ...rest,
    limits: { maxBodyBytes: 4096, maxTokens: 256, upstreamTimeoutMs: 5000, ...limits },
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
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: "hello", refusal: null },
      finish_reason: "stop",
      logprobs: null,
    },
  ],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
};

export const ok = (): Response => Response.json(COMPLETION);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
