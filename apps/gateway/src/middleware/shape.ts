import {
  ApiError,
  expectationMessage,
  invalidRequest,
  jsonTextDeeperThan,
  namesNoModel,
  type Model,
} from "@slm/config";
import type { Context, MiddlewareHandler } from "hono";
import * as v from "valibot";
import { allowsModel, type KeyPolicy } from "../keys/key-policy.ts";
import type { ModelCatalog } from "../models/model-catalog.ts";
import { findModel, modelNotFound } from "../models/models-route.ts";
import type { GatewayEnv, JsonObject } from "../types.ts";
import { bodyTooDeep, decodeUtf8 } from "./body.ts";

/**
 * Request shaping, in order: size limit, strict UTF-8, depth limit, a JSON object, validation against the shared
 * schema (precise 400s), fields the schema does not know dropped (the public sets only what the API defines;
 * inference's own knobs stay internal), `model` resolved against the served models the key may use (the first of them when absent or a URL),
 * token caps clamped to the key's `maxTokens` (filled in when absent), and - when the key's tokens are metered - a
 * streamed request made to report usage. The caller's own text is forwarded when nothing had to change, so a
 * conforming request is not re-serialised.
 */

export interface ShapeOptions {
  /** The route's request schema (the shared one from @slm/config). */
  schema: v.GenericSchema;
  /** Fields that cap generated tokens (clamped; the first is filled in when none is set). Empty: none. */
  tokenFields: readonly string[];
  /** The cap inference assumes when none is given; filled in as the smaller of it and the key's cap. Default: the key's. */
  defaultTokens?: number | undefined;
  /** Whether the route can stream. */
  streams: boolean;
  /** Streams of the route report usage on their own (no `stream_options.include_usage` to add for metering). */
  usageInStream?: boolean | undefined;
  maxBodyBytes: number;
  /** Deepest nesting of objects and arrays accepted (400 `json_too_deep` beyond). Default 64. */
  maxJsonDepth?: number | undefined;
  readBody: (c: Context<GatewayEnv>, maxBytes: number) => Promise<Uint8Array>;
  catalog: ModelCatalog;
}

/** Nesting of objects and arrays a request body may have (`GATEWAY_MAX_JSON_DEPTH`). */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/** Parses the body as a JSON object. The parser's message is not echoed: it quotes the input. */
export function parseJsonObject(text: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_request_error", "invalid_json", "Request body is not valid JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, "invalid_request_error", "invalid_request", "Request body must be a JSON object.");
  }
  return parsed as JsonObject;
}

/**
 * Caps each of `fields` at `maxTokens`; when none is set, sets the first to it. Mutates `body`; returns whether it
 * changed. Assumes the fields, when numbers, were validated as positive integers.
 */
export function clampTokens(body: JsonObject, fields: readonly string[], maxTokens: number, fill = maxTokens): boolean {
  let given = false;
  let changed = false;
  for (const field of fields) {
    const value = body[field];
    if (typeof value === "number") {
      given = true;
      if (value > maxTokens) {
        body[field] = maxTokens;
        changed = true;
      }
    }
  }
  if (!given && fields[0] !== undefined) {
    body[fields[0]] = Math.min(fill, maxTokens);
    changed = true;
  }
  return changed;
}

/**
 * The model a request gets: the requested one if served and allowed; when it names none (absent, or a URL: the Hugging
 * Face client's endpoint), the first the key may use - with one model served, that model.
 */
export function resolveModel(requested: unknown, served: readonly Model[], policy: KeyPolicy): string {
  if (namesNoModel(requested)) {
    const first = served.find((m) => allowsModel(policy, m.id));
    if (first === undefined) throw modelNotFound();
    return first.id;
  }
  if (typeof requested !== "string") {
    throw new ApiError(
      400,
      "invalid_request_error",
      "invalid_request",
      "Invalid request: model: expected string",
      "model",
    );
  }
  const found = findModel(requested, served, policy);
  if (found === undefined) throw modelNotFound();
  return found.id;
}

/** `n` within the key's `maxChoices` (0: no cap of the gateway's; inference refuses more than it serves). */
export function checkChoices(body: JsonObject, policy: KeyPolicy): void {
  const n = body["n"];
  if (policy.maxChoices > 0 && typeof n === "number" && n > policy.maxChoices) {
    throw new ApiError(
      400,
      "invalid_request_error",
      "too_many_choices",
      `n: at most ${policy.maxChoices} choices per request for this key; got ${n}.`,
      "n",
    );
  }
}

export function shapeRequest(options: ShapeOptions): MiddlewareHandler<GatewayEnv> {
  const { schema, tokenFields, catalog } = options;
  const maxJsonDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  return async function shapeRequest(c, next) {
    const text = decodeUtf8(await options.readBody(c, options.maxBodyBytes));
    // Before the parse: what walks the parsed body afterwards (validation, JSON.stringify) recurses.
    if (jsonTextDeeperThan(text, maxJsonDepth)) throw bodyTooDeep(maxJsonDepth);
    let json = parseJsonObject(text);
    let changed = false;

    const result = v.safeParse(schema, json, { abortEarly: false, message: expectationMessage });
    if (!result.success) throw invalidRequest(result.issues);
    // Keep the caller's own values, for the fields the schema knows (valibot's output drops the others).
    const known = result.output as JsonObject;
    const kept: JsonObject = {};
    for (const field of Object.keys(json)) {
      if (Object.hasOwn(known, field)) kept[field] = json[field];
      else changed = true;
    }
    json = kept;

    const policy = c.get("principal").policy;
    const model = resolveModel(json["model"], catalog.fresh() ?? (await catalog.list()), policy);
    if (json["model"] !== model) {
      json["model"] = model;
      changed = true;
    }
    if (clampTokens(json, tokenFields, policy.maxTokens, options.defaultTokens)) changed = true;
    checkChoices(json, policy);

    const stream = options.streams && json["stream"] === true;
    let stripUsage = false;
    if (stream && c.get("meterTokens") !== undefined && options.usageInStream !== true) {
      const streamOptions = json["stream_options"];
      const asked =
        typeof streamOptions === "object" &&
        streamOptions !== null &&
        (streamOptions as JsonObject)["include_usage"] === true;
      if (!asked) {
        json["stream_options"] = {
          ...(typeof streamOptions === "object" && streamOptions !== null ? streamOptions : {}),
          include_usage: true,
        };
        stripUsage = true;
        changed = true;
      }
    }

    c.set("shaped", { body: changed ? JSON.stringify(json) : text, json, model, stream, stripUsage });
    await next();
  };
}
