import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { ApiError, type ModelList } from "@slm/config";
import type { Readiness } from "../readiness.ts";
import type { Serving } from "../serving.ts";
import type { Logger } from "../logger.ts";
import { chatCompletions } from "./chat-completions.ts";
import { errorResponse, internalError, toApiError } from "./errors.ts";

export interface InferenceAppOptions {
  readiness: Readiness;
  /** Undefined until the model is loaded and warm. */
  serving: () => Serving | undefined;
  log: Logger;
}

const REQUEST_ID = /^[\w.-]{1,128}$/;

/** The inference HTTP API: OpenAI-compatible routes plus /health and /ready. */
export function createInferenceApp(options: InferenceAppOptions): Hono {
  const app = new Hono();
  const { readiness, log } = options;

  app.use(
    requestId({
      headerName: "X-Request-Id",
      generator: () => crypto.randomUUID(),
      limitLength: 128,
    }),
  );
  app.use(async (c, next) => {
    const incoming = c.req.header("x-request-id");
    if (incoming !== undefined && !REQUEST_ID.test(incoming)) c.set("requestId", crypto.randomUUID());
    await next();
  });

  const serving = (): Serving => {
    const s = options.serving();
    if (!s) {
      throw new ApiError(503, "service_unavailable", "model_not_ready", `The model is not ready (${readiness.current.phase}).`, null, {
        "retry-after": "1",
      });
    }
    return s;
  };
  const retryAfterSeconds = () => {
    const s = options.serving();
    return s ? Math.max(1, Math.ceil(s.engine.pool.queued / s.engine.pool.size)) : 1;
  };

  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", (c) => {
    const state = readiness.current;
    return c.json({ status: state.phase === "ready" ? "ready" : "not_ready", ...state }, state.phase === "ready" ? 200 : 503);
  });
  app.get("/v1/models", (c) => {
    const s = serving();
    const list: ModelList = {
      object: "list",
      data: [{ id: s.modelName, object: "model", created: s.createdAt, owned_by: "slm-serve" }],
    };
    return c.json(list);
  });
  app.post("/v1/chat/completions", (c) => chatCompletions(c, { serving: serving(), log, retryAfterSeconds }));

  app.notFound((c) => errorResponse(c, new ApiError(404, "not_found_error", "not_found", "Unknown route.")));
  app.onError((error, c) => {
    // The client went away while waiting for a slot: nobody is left to answer.
    if (c.req.raw.signal.aborted) return new Response(null, { status: 499 });
    const api = toApiError(error, retryAfterSeconds);
    return api ? errorResponse(c, api) : internalError(c, error, log);
  });
  return app;
}
