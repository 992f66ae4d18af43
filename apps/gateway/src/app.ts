import type { GatewayConfig } from "@slm/config";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { accessLog } from "./access-log.ts";
import { apiKeyAuth } from "./auth.ts";
import { notFound, onError } from "./errors.ts";
import { createForwarder } from "./forward.ts";
import { health, readiness } from "./health.ts";
import { createLogger, type Logger } from "./logger.ts";
import { requestId } from "./request-id.ts";
import { chatRequest, limitBody } from "./shape.ts";
import type { Fetch, GatewayEnv } from "./types.ts";

/** The gateway as a Hono app, built from its parts. Web-standard APIs only: runs on Node, Deno, or `app.request()`. */

export interface GatewayAppOptions extends Pick<GatewayConfig, "inferenceUrl" | "apiKeys" | "allowAnonymous" | "limits"> {
  /** Stands in for the global `fetch` towards inference (tests). */
  fetch?: Fetch;
  /** Default: a JSON logger at "info". */
  logger?: Logger;
}

export function createGatewayApp(options: GatewayAppOptions): Hono<GatewayEnv> {
  const logger = options.logger ?? createLogger();
  const upstream = createForwarder({
    inferenceUrl: options.inferenceUrl,
    timeoutMs: options.limits.upstreamTimeoutMs,
    fetch: options.fetch,
    logger,
  });

  const app = new Hono<GatewayEnv>();
  app.use(requestId());
  app.use(accessLog({ logger }));
  app.use(secureHeaders());

  app.get("/health", health());
  app.get("/ready", readiness({ probe: upstream.probeReady }));

  app.use("/v1/*", apiKeyAuth({ keys: options.apiKeys, allowAnonymous: options.allowAnonymous, logger }));
  app.post(
    "/v1/chat/completions",
    limitBody({ maxBytes: options.limits.maxBodyBytes }),
    chatRequest({ maxTokens: options.limits.maxTokens }),
    upstream.chatCompletions,
  );
  app.get("/v1/models", upstream.models);

  app.notFound(notFound());
  app.onError(onError({ logger }));
  return app;
}
