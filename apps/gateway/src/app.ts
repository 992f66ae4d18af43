import { ChatCompletionRequest, COMPLETION_DEFAULT_MAX_TOKENS, CompletionRequest, EmbeddingRequest } from "@slm/config";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import type * as v from "valibot";
import { createTokenAuth, mintRoute, type IdpTokenOptions, type MintedTokenOptions } from "./auth/index.ts";
import { buildKeyRecords } from "./keys/key-file.ts";
import type { KeyPolicy } from "./keys/key-policy.ts";
import { createKeyring, type Keyring } from "./keys/keyring.ts";
import { createLogger, type Logger } from "./logger.ts";
import { noMetrics, type GatewayMetrics, type MetricsEndpoint } from "./metrics/metrics.ts";
import { metricsRoute } from "./metrics/metrics-route.ts";
import {
  accessLog,
  apiKeyAuth,
  clientIpResolver,
  corsAllowlist,
  health,
  notFound,
  onError,
  onRequestAbort,
  readBodyWeb,
  readiness,
  requestId,
  requestScope,
  responseHeaders,
  shapeRequest,
} from "./middleware/index.ts";
import { createModelCatalog } from "./models/model-catalog.ts";
import { modelRoute, modelsRoute } from "./models/models-route.ts";
import { servePlayground } from "./playground/serve-playground.ts";
import { createQuotaStore, type QuotaStore } from "./quota/quota-store.ts";
import { rateLimit } from "./quota/rate-limit.ts";
import { inflightRequests } from "./quota/inflight.ts";
import { streamSlots } from "./quota/stream-slots.ts";
import { tokenAdmission } from "./quota/token-admission.ts";
import { createResponses, GatewayResponseRequest, type ResponsesOptions } from "./responses/index.ts";
import type { RuntimeAdapter } from "./runtime/runtime.ts";
import type { Fetch, GatewayEnv } from "./types.ts";
import { createAffinityMemory, createForwarder, createReplicaPool, type AffinityMemory } from "./upstream/index.ts";
import { createPrincipalTagger, tagPrincipal } from "./upstream/principal-tag.ts";

/** The gateway as a Hono app, built from its parts. Web-standard APIs only: runs on Node, Deno, or `app.request()`. */

export interface GatewayAppOptions {
  /** Inference replicas (or pass `replicas`). */
  inferenceUrls?: readonly string[];
  /** Sent to inference as `Authorization: Bearer <key>`, never to clients. */
  inferenceApiKey?: string | undefined;
  /** The live keys (reloadable by the caller), or `apiKeys` to hash at startup with the default policy. */
  keyring?: Keyring;
  apiKeys?: readonly string[];
  allowAnonymous: boolean;
  /**
   * The models anonymous requests may use (`["*"]`: all). Default: all when no key is configured (a local or
   * open deployment), none when keys are (anonymous access beside keys must name what it opens up).
   */
  anonymousModels?: readonly string[] | undefined;
  /** The policy of keys without their own, and of anonymous requests. Default: unlimited, `limits.maxTokens`. */
  defaultPolicy?: Partial<KeyPolicy>;
  /** Requests per minute per client address without a valid key (anonymous, or failed authentication). 0: none. */
  ipRequestsPerMinute?: number;
  limits: {
    maxBodyBytes: number;
    maxTokens?: number;
    upstreamTimeoutMs: number;
    maxInflightPerReplica?: number;
    /** Deepest nesting of objects and arrays in a request body. Default 64. */
    maxJsonDepth?: number;
    /** A request body must arrive within this (408 beyond). Default 30 s; 0: no limit. */
    bodyTimeoutMs?: number;
  };
  /** Default: in memory (one process). */
  quotaStore?: QuotaStore;
  /** Stored responses (GATEWAY_RESPONSES_*; see responses/): where (default in memory), how long, how large. */
  responses?: ResponsesOptions;
  /**
   * Conversation-affine routing over the replicas (GATEWAY_AFFINITY*, see upstream/replica-pool.ts): on unless
   * `enabled: false`; `spill` (default 2); where spilled conversations are remembered (default in process, `ttlMs`).
   */
  affinity?: { enabled?: boolean; spill?: number; ttlMs?: number; memory?: AffinityMemory };
  /** GATEWAY_CACHED_TOKEN_WEIGHT: token quotas charge a cached prompt token at this weight (0..1). Default 1. */
  cachedTokenWeight?: number;
  /** Probe every replica's /ready this often (0 or absent: only when /ready is asked). */
  healthIntervalMs?: number;
  /** Ends background work (health checks) when aborted. */
  signal?: AbortSignal;
  corsOrigins?: readonly string[];
  trustProxyHops?: number;
  metrics?: GatewayMetrics;
  /** Serves GET /metrics when given. */
  metricsEndpoint?: MetricsEndpoint;
  metricsToken?: string | undefined;
  /** How long the served model list is cached. Default 10 s. */
  modelsTtlMs?: number;
  runtime?: RuntimeAdapter;
  /** Stands in for the global `fetch` towards inference. */
  fetch?: Fetch;
  /** Default: a JSON logger at "info". */
  logger?: Logger;
  /** Serve the browser playground at /playground/. */
  playground?: boolean;
  /** Sign-in tokens of an identity provider (GATEWAY_JWT_*): a Bearer JWT signs in a user with its own quotas. */
  jwt?: IdpTokenOptions | undefined;
  /** The gateway's own short-lived tokens (GATEWAY_TOKEN_SECRET): minted by POST /v1/auth/tokens, accepted as sign-ins. */
  mintedTokens?: MintedTokenOptions | undefined;
  /** Stands in for the global fetch towards the JWKS (tests). */
  jwksFetch?: typeof fetch;
}

interface ApiRoute {
  path: string;
  schema: v.GenericSchema;
  tokenFields: readonly string[];
  /** What inference assumes when no token cap is given (the gateway fills in the smaller of it and the key's cap). */
  defaultTokens?: number;
  streams: boolean;
  /** The route's stream always ends with its usage (Responses: in response.completed): no stream_options to add. */
  usageInStream?: boolean;
}

/** The forwarded API, each route validated against the shared schema. */
export const API_ROUTES: readonly ApiRoute[] = [
  {
    path: "/v1/chat/completions",
    schema: ChatCompletionRequest,
    tokenFields: ["max_tokens", "max_completion_tokens"],
    streams: true,
  },
  {
    path: "/v1/completions",
    schema: CompletionRequest,
    tokenFields: ["max_tokens"],
    defaultTokens: COMPLETION_DEFAULT_MAX_TOKENS,
    streams: true,
  },
  { path: "/v1/embeddings", schema: EmbeddingRequest, tokenFields: [], streams: false },
  {
    path: "/v1/responses",
    // The shared schema plus previous_response_id and item_reference, answered from stored responses (responses/).
    schema: GatewayResponseRequest,
    tokenFields: ["max_output_tokens"],
    streams: true,
    usageInStream: true,
  },
];

/** How old a readiness check may be when no periodic checker runs (tests, embedders). */
const DEFAULT_READINESS_MAX_AGE_MS = 1_000;
/** GATEWAY_BODY_TIMEOUT_MS's default: how long a request body may take to arrive. */
const DEFAULT_BODY_TIMEOUT_MS = 30_000;

export function createGatewayApp(options: GatewayAppOptions): Hono<GatewayEnv> {
  const logger = options.logger ?? createLogger();
  const metrics = options.metrics ?? noMetrics;
  const runtime = options.runtime ?? {};
  const { limits } = options;
  const clientIp = clientIpResolver({
    trustProxyHops: options.trustProxyHops,
    header: runtime.header,
    remoteAddress: runtime.remoteAddress,
  });
  const onClientClose = runtime.onClientClose ?? onRequestAbort;
  const readRawBody = runtime.readBody ?? readBodyWeb;
  // Within GATEWAY_BODY_TIMEOUT_MS, and no longer than the client stays (the request scope's signal).
  const bodyTimeoutMs = limits.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const readBody = (c: Context<GatewayEnv>, maxBytes: number) =>
    readRawBody(c, maxBytes, { timeoutMs: bodyTimeoutMs, signal: c.var.scope?.signal });

  const defaultPolicy: KeyPolicy = {
    models: "*",
    requestsPerMinute: 0,
    tokensPerMinute: 0,
    concurrentStreams: 0,
    concurrentRequests: 0,
    maxTokens: limits.maxTokens ?? 4096,
    maxChoices: 0,
    ...options.defaultPolicy,
  };
  const ipRequestsPerMinute = options.ipRequestsPerMinute ?? 0;
  const keysConfigured =
    (options.apiKeys?.length ?? 0) > 0 ||
    (options.keyring?.size ?? 0) > 0 ||
    options.jwt !== undefined ||
    options.mintedTokens !== undefined;
  const anonymousModels: KeyPolicy["models"] =
    options.anonymousModels === undefined
      ? keysConfigured
        ? []
        : "*"
      : options.anonymousModels.includes("*")
        ? "*"
        : options.anonymousModels;
  const anonymousPolicy: KeyPolicy = {
    ...defaultPolicy,
    models: anonymousModels,
    requestsPerMinute: ipRequestsPerMinute,
  };

  const keyring = options.keyring ?? createKeyring();
  const keysReady =
    options.keyring === undefined && options.apiKeys && options.apiKeys.length > 0
      ? buildKeyRecords(
          options.apiKeys.map((key) => ({ key })),
          defaultPolicy,
        ).then((records) => keyring.replace(records))
      : undefined;

  // Sign-in tokens: users get the key file's policy their token names, else the default policy. The JWKS is fetched
  // now, so that the first token does not wait for it (and a JWKS that cannot be reached shows in the log at once).
  const tokens = createTokenAuth({
    jwt: options.jwt,
    minted: options.mintedTokens,
    policy: (name) => keyring.policy(name),
    defaultPolicy,
    fetch: options.jwksFetch,
    logger,
  });
  if (tokens?.jwks && !options.signal?.aborted) void tokens.jwks.refresh();

  const store = options.quotaStore ?? createQuotaStore({ logger, metrics });
  const pool = createReplicaPool({
    urls: options.inferenceUrls ?? [],
    maxInflight: limits.maxInflightPerReplica,
    affinity:
      options.affinity?.enabled === false
        ? undefined
        : {
            spill: options.affinity?.spill,
            memory: options.affinity?.memory ?? createAffinityMemory({ ttlMs: options.affinity?.ttlMs, logger }),
          },
    probe: (replica) => upstream.probe(replica),
    logger,
    metrics,
  });
  const upstream = createForwarder({
    pool,
    timeoutMs: limits.upstreamTimeoutMs,
    inferenceApiKey: options.inferenceApiKey,
    fetch: options.fetch,
    cachedTokenWeight: options.cachedTokenWeight,
    logger,
    metrics,
  });
  const catalog = createModelCatalog({ fetchModels: upstream.fetchModels, ttlMs: options.modelsTtlMs });
  if (options.healthIntervalMs && !options.signal?.aborted) {
    pool.startHealthChecks(options.healthIntervalMs);
    options.signal?.addEventListener("abort", () => pool.stop(), { once: true });
  }

  const app = new Hono<GatewayEnv>();
  app.use(responseHeaders());
  app.use(requestId({ header: runtime.header }));
  app.use(
    accessLog({
      logger,
      metrics,
      routes: [...API_ROUTES.map((r) => r.path), "/v1/models", "/v1/auth/tokens", "/health", "/ready", "/metrics"],
    }),
  );
  if (options.corsOrigins && options.corsOrigins.length > 0)
    app.use(corsAllowlist({ origins: options.corsOrigins, header: runtime.header }));

  app.get("/health", health());
  // Answered from the health checker's state; a check runs only when the last one is older than its interval.
  app.get(
    "/ready",
    readiness({ probe: () => pool.readiness(options.healthIntervalMs ?? DEFAULT_READINESS_MAX_AGE_MS) }),
  );
  if (options.metricsEndpoint)
    app.get("/metrics", metricsRoute({ endpoint: options.metricsEndpoint, token: options.metricsToken }));

  // First on /v1, before anything awaits: the owner of whatever the request will hold (request-scope.ts).
  app.use("/v1/*", requestScope({ onClientClose, logger }));
  app.use(
    "/v1/*",
    apiKeyAuth({
      keyring,
      ready: keysReady,
      allowAnonymous: options.allowAnonymous,
      anonymousPolicy,
      tokens,
      clientIp,
      failures:
        ipRequestsPerMinute > 0
          ? { store, quota: { name: "ip", limit: ipRequestsPerMinute, windowSec: 60 } }
          : undefined,
      sha256Hex: runtime.sha256Hex,
      header: runtime.header,
      logger,
      metrics,
    }),
    rateLimit({ store, logger, metrics }),
  );
  const leaseSec = Math.ceil(limits.upstreamTimeoutMs / 1000) + 60;
  const responses = createResponses({ ...options.responses, logger });
  const passOn: MiddlewareHandler<GatewayEnv> = (_c, next) => next();
  const principalTagger = createPrincipalTagger(options.inferenceApiKey);
  for (const route of API_ROUTES) {
    app.post(
      route.path,
      shapeRequest({
        ...route,
        maxBodyBytes: limits.maxBodyBytes,
        maxJsonDepth: limits.maxJsonDepth,
        readBody,
        catalog,
      }),
      // /v1/responses: a stored conversation expanded before its tokens are estimated, its answer stored.
      route.path === "/v1/responses" ? responses.create : passOn,
      tokenAdmission({ store, logger, metrics }),
      streamSlots({ store, logger, metrics, leaseSec }),
      inflightRequests({ store, logger, metrics, leaseSec }),
      tagPrincipal(principalTagger),
      upstream.post(route.path),
    );
  }
  app.get("/v1/responses/:id", responses.retrieve);
  app.get("/v1/responses/:id/input_items", responses.inputItems);
  app.delete("/v1/responses/:id", responses.remove);
  app.get("/v1/models", modelsRoute(catalog));
  app.get("/v1/models/:id{.+}", modelRoute(catalog));
  app.post(
    "/v1/auth/tokens",
    mintRoute({
      secret: options.mintedTokens?.secret,
      hasPolicy: (name) => keyring.policy(name) !== undefined,
      maxBodyBytes: limits.maxBodyBytes,
      readBody,
      logger,
    }),
  );
  if (options.playground) app.route("/playground", servePlayground({ logger }));

  app.notFound(notFound());
  app.onError(onError({ logger }));
  return app;
}
