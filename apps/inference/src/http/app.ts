import { Hono, type Context } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { matchedRoutes } from "hono/route";
import { METHOD_NAME_ALL } from "hono/router";
import { acceptRequestId, ApiError, errorEnvelope, type Model, type ModelList } from "@slm/config";
import type { Readiness } from "../readiness.ts";
import type { Serving } from "../serving.ts";
import type { Logger } from "../logger.ts";
import type { InferenceMetrics } from "../metrics.ts";
import type { InferenceEnv } from "./context.ts";
import { chatCompletions } from "./chat-completions.ts";
import { completions } from "./completions.ts";
import { embeddings } from "./embeddings.ts";
import { responses } from "./responses/index.ts";
import { mountDebugRoutes } from "./debug-routes.ts";
import { errorResponse, internalError, toApiError } from "./errors.ts";
import { shuttingDown } from "./request-signal.ts";

export interface InferenceAppOptions {
  readiness: Readiness;
  /** Undefined until the model is loaded and warm. */
  serving: () => Serving | undefined;
  log: Logger;
  metrics: InferenceMetrics;
  /** INFERENCE_API_KEY: when set, every route but /health and /ready needs `Authorization: Bearer <key>`. */
  apiKey?: string | undefined;
  /** INFERENCE_MAX_BODY_BYTES: a larger request body is a 413, read no further. */
  maxBodyBytes: number;
  requestTimeoutMs: number;
  /** True once SIGTERM arrived: new requests get 503. */
  draining: () => boolean;
  /** Aborts in-flight generations when the shutdown grace period is over. */
  shutdown: AbortSignal;
}

/** Probes and scrapes are logged at debug level, so a load balancer polling /ready does not flood the logs. */
const QUIET = new Set(["/health", "/ready", "/metrics"]);

/** The inference HTTP API: OpenAI-compatible routes, /health, /ready and /metrics. */
export function createInferenceApp(options: InferenceAppOptions): Hono<InferenceEnv> {
  const app = new Hono<InferenceEnv>();
  const { readiness, log, metrics } = options;

  // The caller's X-Request-Id only in @slm/config's safe shape (the gateway's rule), else a fresh UUID: it is written
  // into every log line. (Hono's requestId() would keep ids with "=" and refuse ones with ".".)
  app.use(async (c, next) => {
    c.set("requestId", acceptRequestId(c.req.header("x-request-id")));
    await next();
  });
  app.use(async (c, next) => {
    const started = performance.now();
    c.set("arrivedAt", started);
    await next();
    c.res.headers.set("x-request-id", c.get("requestId"));
    const route = routeLabel(c);
    metrics.requests.inc({ route, method: c.req.method, status: String(c.res.status) });
    const line = {
      requestId: c.get("requestId"),
      method: c.req.method,
      route,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    };
    if (QUIET.has(route)) log.debug(line, "request");
    else log.info(line, "request");
  });

  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", (c) => {
    const state = readiness.current;
    return c.json(
      { status: state.phase === "ready" ? "ready" : "not_ready", ...state },
      state.phase === "ready" ? 200 : 503,
    );
  });

  if (options.apiKey) {
    const unauthorized = (message: string) => () =>
      errorEnvelope("authentication_error", message, { code: "invalid_api_key" });
    app.use(
      bearerAuth({
        token: options.apiKey,
        noAuthenticationHeader: { message: unauthorized("Missing bearer token.") },
        invalidAuthenticationHeader: { message: unauthorized("Malformed Authorization header.") },
        invalidToken: { message: unauthorized("Invalid bearer token.") },
      }),
    );
  }

  app.use(
    bodyLimit({
      maxSize: options.maxBodyBytes,
      // The rest of the body is not read, so the connection cannot carry another request: say so, or a client
      // reusing it (undici's pool) fails its next request.
      onError: (c) =>
        errorResponse(
          c,
          new ApiError(
            413,
            "invalid_request_error",
            "request_too_large",
            `The request body is larger than ${options.maxBodyBytes} bytes.`,
            null,
            {
              connection: "close",
            },
          ),
        ),
    }),
  );

  app.get("/metrics", async (c) =>
    c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );

  app.use("/v1/*", async (_c, next) => {
    if (options.draining()) throw shuttingDown();
    await next();
  });
  const serving = (): Serving => {
    const s = options.serving();
    if (!s) {
      throw new ApiError(
        503,
        "service_unavailable",
        "model_not_ready",
        `The model is not ready (${readiness.current.phase}).`,
        null,
        {
          "retry-after": "1",
        },
      );
    }
    return s;
  };
  const deps = { metrics, log, requestTimeoutMs: options.requestTimeoutMs, shutdown: options.shutdown };

  const servedModels = (): Model[] => {
    const s = serving();
    const names = s.variants ? [...s.variants.keys()] : [s.modelName];
    return names.map((id) => ({ id, object: "model", created: s.createdAt, owned_by: "slm-serve" }));
  };
  app.get("/v1/models", (c) => c.json({ object: "list", data: servedModels() } satisfies ModelList));
  // An id may hold "/" (sent URL-encoded by the openai client, or not).
  app.get("/v1/models/:id{.+}", (c) => {
    const id = c.req.param("id");
    const model = servedModels().find((m) => m.id === id);
    if (!model) {
      throw new ApiError(
        404,
        "invalid_request_error",
        "model_not_found",
        "The model does not exist. GET /v1/models lists the served models.",
        "model",
      );
    }
    return c.json(model);
  });
  app.post("/v1/chat/completions", (c) => chatCompletions(c, serving(), deps));
  app.post("/v1/completions", (c) => completions(c, serving(), deps));
  app.post("/v1/responses", (c) => responses(c, serving(), deps));
  app.post("/v1/embeddings", (c) => embeddings(c, serving(), deps));
  mountDebugRoutes(app, serving);

  app.notFound((c) => errorResponse(c, new ApiError(404, "not_found_error", "not_found", "Unknown route.")));
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    // The client went away while waiting for a slot: nobody is left to answer.
    if (c.req.raw.signal.aborted) return new Response(null, { status: 499 });
    const retryAfter = () => {
      const engine = options.serving()?.engine;
      return engine ? engine.throughput.retryAfterSeconds(engine.pool.queued, engine.pool.size) : 1;
    };
    const api = toApiError(error, retryAfter);
    return api ? errorResponse(c, api) : internalError(c, error, log);
  });
  return app;
}

/**
 * The label of a request in metrics and logs: the path of the route Hono matched (its pattern), so every registered
 * route is labelled without a list kept by hand; "unmatched" when none did, never the raw path (unbounded label
 * values, and a forged path in a log line). Middleware (registered with `use`, for every method) is not a route: a
 * request that the key check or the body limit refused is still labelled with the route it was meant for.
 */
function routeLabel(c: Context): string {
  return matchedRoutes(c).find((route) => route.method !== METHOD_NAME_ALL)?.path ?? "unmatched";
}
