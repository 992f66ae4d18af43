import { ApiError, ChatCompletionRequest, expectationMessage, invalidRequest } from "@slm/config";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import type { GatewayEnv } from "./types.ts";

/**
 * Request shaping: size limit, JSON parsing, validation against the shared schema, and token clamping. What is
 * forwarded is the caller's own JSON (clamped), not valibot's output: fields the schema does not know are kept for
 * inference to judge, and the schema's derived fields (`maxTokens`) are not sent.
 */

export type JsonObject = Record<string, unknown>;

export interface ShapedChatRequest {
  /** The caller's JSON body after clamping: what inference receives. */
  body: JsonObject;
  /** The validated request (valibot output), for middleware that needs typed fields. */
  request: ChatCompletionRequest;
}

export interface LimitBodyOptions {
  maxBytes: number;
}

/** Hono's bodyLimit, answering 413 with the error envelope. */
export function limitBody(options: LimitBodyOptions): MiddlewareHandler<GatewayEnv> {
  return bodyLimit({
    maxSize: options.maxBytes,
    onError: () => {
      throw new ApiError(
        413,
        "invalid_request_error",
        "request_too_large",
        `Request body too large: the limit is ${options.maxBytes} bytes.`,
      );
    },
  });
}

/** Parses the body as a JSON object. The parser's message is not echoed: it quotes the input. */
export async function readJsonObject(request: Request): Promise<JsonObject> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await request.text());
  } catch {
    throw new ApiError(400, "invalid_request_error", "invalid_json", "Request body is not valid JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, "invalid_request_error", "invalid_request", "Request body must be a JSON object.");
  }
  return parsed as JsonObject;
}

/**
 * Caps `max_tokens` and `max_completion_tokens` at `maxTokens`; when neither is given, sets `max_tokens` to it.
 * Returns a new object; assumes both fields, when numbers, were validated as positive integers.
 */
export function clampTokens(body: JsonObject, maxTokens: number): JsonObject {
  const out: JsonObject = { ...body };
  let given = false;
  for (const field of ["max_tokens", "max_completion_tokens"] as const) {
    const value = out[field];
    if (typeof value === "number") {
      out[field] = Math.min(value, maxTokens);
      given = true;
    }
  }
  if (!given) out["max_tokens"] = maxTokens;
  return out;
}

export interface ChatRequestOptions {
  maxTokens: number;
}

/** Parses, validates and clamps a chat completion request; sets `c.var.chatRequest`. */
export function chatRequest(options: ChatRequestOptions): MiddlewareHandler<GatewayEnv> {
  return async function chatRequest(c, next) {
    const json = await readJsonObject(c.req.raw);
    const result = v.safeParse(ChatCompletionRequest, json, { abortEarly: false, message: expectationMessage });
    if (!result.success) throw invalidRequest(result.issues);
    c.set("chatRequest", { body: clampTokens(json, options.maxTokens), request: result.output });
    await next();
  };
}
