import { ApiError, ErrorEnvelopeSchema, errorEnvelope, sseError, type Model } from "@slm/config";
import type { Context, Handler } from "hono";
import * as v from "valibot";
import { silentLogger, type Logger } from "../logger.ts";
import { noMetrics, type GatewayMetrics } from "../metrics/metrics.ts";
import { clientClosed, withResponseHeaders } from "../middleware/index.ts";
import { scrubEnvelope } from "../scrub.ts";
import type { Fetch, GatewayEnv, UpstreamResponse } from "../types.ts";
import { affinityKey, type AffinityKey, type AffinitySource } from "./affinity-key.ts";
import { relayEventStream } from "./event-stream.ts";
import { meterTokens } from "./meter-tokens.ts";
import type { Replica, ReplicaPool } from "./replica-pool.ts";

/**
 * The relay to inference. A request goes to the replica the pool chooses (replica-pool.ts: a conversation's turns to
 * the replica holding its prefix, by the affinity key of affinity-key.ts; anything else to the one with the fewest
 * requests in flight), with the request id, the internal inference key and a deadline (client disconnect or timeout, whichever comes first, aborts it). The client's
 * side of the deadline is the request scope's signal (request-scope.ts), subscribed before anything awaited: a request
 * whose client left while it waited for its quotas or the model list is never sent, and aborting one already sent
 * closes its upstream connection, which stops the generation. Its replica slot, stream count and tokens are given back
 * through the scope, exactly once, whenever the request ends - even when nobody ever reads the stream it returned.
 * What comes back crosses with a whitelist of headers: JSON read whole (small, and its usage is metered), SSE relayed
 * chunk by chunk. Failures become 502/503/504 in the error envelope; an upstream error envelope is scrubbed and
 * relayed with its status and Retry-After. What each outcome costs in tokens is meter-tokens.ts's to decide.
 */

export interface ForwardOptions {
  pool: ReplicaPool;
  /** Deadline for a whole upstream exchange, streamed body included. */
  timeoutMs: number;
  /** Deadline for probes and the model list. Default min(timeoutMs, 5000). */
  probeTimeoutMs?: number;
  /** Sent as `Authorization: Bearer <key>`; never relayed back, scrubbed from anything relayed. */
  inferenceApiKey?: string | undefined;
  fetch?: Fetch;
  /** GATEWAY_CACHED_TOKEN_WEIGHT: what a cached prompt token counts for in token quotas (0..1). Default 1. */
  cachedTokenWeight?: number;
  logger?: Logger;
  metrics?: GatewayMetrics;
}

export interface Forwarder {
  /** POSTs `c.var.shaped.body` to `path` and relays the answer. */
  post(path: string): Handler<GatewayEnv>;
  /** The served models, from a replica's /v1/models (for the model catalog). */
  fetchModels(): Promise<Model[]>;
  /** A replica's /ready status, or null when unreachable. */
  probe(replica: Replica): Promise<number | null>;
}

/** Response headers that may cross from inference to the public client. */
export const RELAYED_HEADERS = ["content-type", "cache-control", "retry-after"] as const;
const MAX_ERROR_BODY_BYTES = 64 * 1024;

const unavailable = () =>
  new ApiError(503, "service_unavailable", "upstream_unavailable", "The inference service is unavailable.", null, {
    "Retry-After": "1",
  });
const overloaded = () =>
  new ApiError(503, "service_unavailable", "overloaded", "The inference service is at capacity; retry shortly.", null, {
    "Retry-After": "1",
  });
const timedOut = () =>
  new ApiError(504, "server_error", "upstream_timeout", "The inference service did not respond in time.");
const badUpstream = () =>
  new ApiError(502, "server_error", "upstream_error", "The inference service returned an invalid response.");

export function relayedHeaders(from: UpstreamResponse["headers"]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of RELAYED_HEADERS) {
    const value = from.get(name);
    if (value !== null) headers[name] = value;
  }
  return headers;
}

function isEventStream(headers: UpstreamResponse["headers"]): boolean {
  return headers.get("content-type")?.toLowerCase().startsWith("text/event-stream") ?? false;
}

/**
 * A connection that was refused or never established (a blackholed address: the transport's connect deadline):
 * nothing reached the replica, so it is marked down and another one may take the request.
 */
function connectionRefused(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (
      code === "ECONNREFUSED" ||
      code === "UND_ERR_CONNECT_TIMEOUT" ||
      /ECONNREFUSED|Connection refused/i.test(e.message)
    )
      return true;
    if (code === "ETIMEDOUT" && /^connect timed out/.test(e.message)) return true;
  }
  return false;
}

async function readCapped(response: UpstreamResponse, maxBytes: number): Promise<string> {
  const body = response.body;
  if (!body) return "";
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    text += decoder.decode(value, { stream: true });
    if (size >= maxBytes) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return text.slice(0, maxBytes);
}

/**
 * One upstream exchange's deadline: client disconnect (the request scope's signal) or timeout, whichever first. One
 * timer and one abort listener (no AbortSignal.any).
 */
class Deadline {
  readonly controller = new AbortController();
  reason: "client" | "timeout" | null = null;
  /** The request went to inference (a replica is chosen first, which may await the affinity memory). */
  sent = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #client: AbortSignal;
  #onClient = () => this.#abort("client");

  constructor(client: AbortSignal, timeoutMs: number) {
    this.#client = client;
    if (client.aborted) {
      this.#abort("client");
      return;
    }
    this.#timer = setTimeout(() => this.#abort("timeout"), timeoutMs);
    client.addEventListener("abort", this.#onClient, { once: true });
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  #abort(reason: "client" | "timeout"): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.controller.abort(
      new DOMException(reason === "client" ? "client closed the request" : "upstream timeout", "AbortError"),
    );
  }
  dispose(): void {
    clearTimeout(this.#timer);
    this.#client.removeEventListener("abort", this.#onClient);
  }
}

export function createForwarder(options: ForwardOptions): Forwarder {
  const { pool, timeoutMs } = options;
  const logger = options.logger ?? silentLogger;
  const metrics = options.metrics ?? noMetrics;
  // Resolved per call, so a global fetch replaced after startup (tests, instrumentation) is honoured.
  const doFetch: Fetch = options.fetch ?? ((url, init) => fetch(url, init));
  const probeTimeoutMs = options.probeTimeoutMs ?? Math.min(timeoutMs, 5000);
  const secret = options.inferenceApiKey;
  const authorization = secret !== undefined ? `Bearer ${secret}` : undefined;

  function upstreamHeaders(requestId: string | undefined, json: boolean, principal?: string): Record<string, string> {
    const headers: Record<string, string> = {};
    if (requestId !== undefined) headers["x-request-id"] = requestId;
    // Whom inference serves in turn (principal-tag.ts): a hash, never the key or the principal's id.
    if (principal !== undefined) headers["x-slm-principal"] = principal;
    if (json) headers["content-type"] = "application/json";
    if (authorization !== undefined) headers["authorization"] = authorization;
    return headers;
  }

  async function relayError(
    c: Context<GatewayEnv>,
    upstream: UpstreamResponse,
    requestId: string,
    path: string,
  ): Promise<Response> {
    if (upstream.status === 401 || upstream.status === 403) {
      // Inference refusing the gateway is the deployment's problem (INFERENCE_API_KEY), not the client's key.
      await upstream.body?.cancel().catch(() => {});
      logger.error("inference refused the gateway's request: check INFERENCE_API_KEY on both", {
        requestId,
        path,
        status: upstream.status,
      });
      throw badUpstream();
    }
    let text = "";
    try {
      text = await readCapped(upstream, MAX_ERROR_BODY_BYTES);
    } catch (err) {
      logger.warn("upstream error body unreadable", { requestId, path, status: upstream.status, err });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (upstream.status >= 400 && v.is(ErrorEnvelopeSchema, json)) {
      logger.debug("upstream error relayed", { requestId, path, status: upstream.status, code: json.error.code });
      const headers = withResponseHeaders(c, relayedHeaders(upstream.headers));
      headers["content-type"] = "application/json";
      const body = JSON.stringify(scrubEnvelope(json, upstream.status, secret === undefined ? [] : [secret]));
      return new Response(body, { status: upstream.status, headers });
    }
    logger.warn("upstream error without an envelope", { requestId, path, status: upstream.status });
    throw badUpstream();
  }

  /** The request's affinity key, when the pool routes by one (never fails a request: no key instead). */
  async function keyOf(source: AffinitySource): Promise<AffinityKey | undefined> {
    if (!pool.affine) return undefined;
    try {
      return await affinityKey(source);
    } catch (err) {
      logger.warn("affinity key not derived", { path: source.path, err });
      return undefined;
    }
  }

  /**
   * Sends to a replica; on a refused connection, marks it down and tries one other replica. A request whose deadline
   * passed while its replica was chosen (the affinity memory is asked first) is not sent (`deadline.sent` stays false).
   */
  async function send(
    path: string,
    requestId: string,
    body: string,
    deadline: Deadline,
    principal?: string,
    affinity?: AffinityKey,
  ): Promise<{ response: UpstreamResponse; replica: Replica }> {
    let replica = await pool.acquireFor(affinity);
    if (replica === undefined) throw overloaded();
    for (let attempt = 0; ; attempt++) {
      if (deadline.reason !== null) {
        pool.release(replica);
        throw deadline.signal.reason;
      }
      deadline.sent = true;
      try {
        const response = await doFetch(`${replica.url}${path}`, {
          method: "POST",
          headers: upstreamHeaders(requestId, true, principal),
          body,
          signal: deadline.signal,
          redirect: "manual",
        });
        return { response, replica };
      } catch (err) {
        pool.release(replica);
        if (deadline.reason === null && attempt === 0 && connectionRefused(err)) {
          pool.setHealth(replica, false);
          const next = await pool.acquireFor(affinity, replica);
          if (next !== undefined) {
            logger.warn("inference replica refused the connection; retrying on another", {
              requestId,
              path,
              replica: replica.name,
            });
            replica = next;
            continue;
          }
        }
        throw err;
      }
    }
  }

  function post(path: string): Handler<GatewayEnv> {
    return async function forward(c) {
      const shaped = c.get("shaped");
      const requestId = c.get("requestId");
      const scope = c.get("scope");
      // The client left while the request awaited its quotas or the model list: nothing was sent, nothing is.
      if (scope.clientGone) {
        logger.info("client closed the request before it was forwarded", { requestId, path });
        throw clientClosed();
      }
      const deadline = new Deadline(scope.signal, timeoutMs);
      const started = performance.now();
      // Charged before sending (the prompt's estimate), settled by the outcome.
      const tokens = meterTokens(c.get("meterTokens"), shaped, { cachedTokenWeight: options.cachedTokenWeight });
      let replica: Replica | undefined;
      let streaming = false;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        deadline.dispose();
        if (replica !== undefined) pool.release(replica);
        replica = undefined;
        if (streaming) metrics.streamClosed();
      };
      // Whenever the request ends - its stream read to the end, or its client gone at any point, even before anyone
      // read the stream - the replica slot goes back, and a request whose client left pays its worst case (prompt +
      // whole cap: it was sent, inference may have generated all of it). Idempotent with the paths below.
      scope.defer(() => {
        if (scope.clientGone && deadline.sent) tokens.settleWorstCase();
        finish();
      });

      try {
        let upstream: UpstreamResponse;
        try {
          const affinity = await keyOf({
            path,
            json: shaped.json,
            principal: c.get("principal"),
            conversationKey: c.var.conversationKey,
          });
          ({ response: upstream, replica } = await send(
            path,
            requestId,
            shaped.body,
            deadline,
            c.get("principalTag"),
            affinity,
          ));
        } catch (err) {
          const outcome = deadline.reason ?? (err instanceof ApiError ? err.code : "unreachable");
          metrics.upstreamLatency(path, outcome, (performance.now() - started) / 1000);
          // Nothing was generated when inference was never reached; it may have been when the request was sent.
          if (deadline.reason !== null && deadline.sent) tokens.settleWorstCase();
          else tokens.settleNothing();
          if (err instanceof ApiError) throw err;
          if (deadline.reason === "client") {
            logger.info("client closed the request before inference answered", { requestId, path });
            throw clientClosed();
          }
          if (deadline.reason === "timeout") {
            logger.warn("inference timed out", { requestId, path, timeoutMs });
            throw timedOut();
          }
          logger.warn("inference unreachable", { requestId, path, err });
          throw unavailable();
        }
        metrics.upstreamLatency(path, String(upstream.status), (performance.now() - started) / 1000);

        if (upstream.status < 200 || upstream.status >= 300) {
          tokens.settleNothing(); // refused by inference
          return await relayError(c, upstream, requestId, path);
        }

        const headers = withResponseHeaders(c, relayedHeaders(upstream.headers));
        // The content type first: reading `body` may turn a Node stream into a web stream, wanted for SSE only.
        if (isEventStream(upstream.headers) && upstream.body) {
          headers["x-accel-buffering"] = "no";
          streaming = true;
          metrics.streamOpened();
          // The request lasts as long as its stream (its slots with it), not just until this handler returns.
          const ended = scope.hold();
          const body = relayEventStream(upstream.body, {
            stripUsage: shaped.stripUsage,
            onUsage: tokens.onStreamUsage,
            onBreak: (err) => {
              if (deadline.reason === "client") {
                logger.info("client closed the stream", { requestId, path });
                return null;
              }
              if (deadline.reason === "timeout") {
                logger.warn("inference timed out mid-stream", { requestId, path, timeoutMs });
                return sseError(
                  errorEnvelope("server_error", "The inference service did not respond in time.", {
                    code: "upstream_timeout",
                  }),
                );
              }
              logger.warn("inference stream broke", { requestId, path, err });
              return sseError(
                errorEnvelope("server_error", "The inference service closed the stream unexpectedly.", {
                  code: "upstream_error",
                }),
              );
            },
            onEnd: () => {
              finish();
              ended();
            },
          });
          return new Response(body, { status: upstream.status, headers });
        }

        let text: string;
        try {
          text = await upstream.text();
        } catch (err) {
          tokens.settleWorstCase();
          if (deadline.reason === "client") throw clientClosed();
          if (deadline.reason === "timeout") throw timedOut();
          logger.warn("inference response broke", { requestId, path, err });
          throw badUpstream();
        }
        tokens.settleAnswer(text);
        return new Response(text, { status: upstream.status, headers });
      } finally {
        if (!streaming) finish();
      }
    };
  }

  async function getJson(path: string): Promise<{ status: number; text: string } | null> {
    const replica = pool.acquire();
    if (replica === undefined) throw overloaded();
    try {
      const res = await doFetch(`${replica.url}${path}`, {
        method: "GET",
        headers: upstreamHeaders(undefined, false),
        signal: AbortSignal.timeout(probeTimeoutMs),
        redirect: "manual",
      });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      logger.warn("inference unreachable", { path, replica: replica.name, err });
      if (connectionRefused(err)) pool.setHealth(replica, false);
      return null;
    } finally {
      pool.release(replica);
    }
  }

  return {
    post,
    async fetchModels() {
      const res = await getJson("/v1/models");
      if (res === null) throw unavailable();
      let list: unknown;
      try {
        list = JSON.parse(res.text);
      } catch {
        list = undefined;
      }
      const data = (list as { data?: unknown } | undefined)?.data;
      if (res.status !== 200 || !Array.isArray(data)) {
        logger.warn("inference model list unusable", { status: res.status });
        throw res.status === 503 ? unavailable() : badUpstream();
      }
      return data.filter((m): m is Model => typeof m === "object" && m !== null && typeof (m as Model).id === "string");
    },
    async probe(replica) {
      try {
        const res = await doFetch(`${replica.url}/ready`, {
          method: "GET",
          headers: upstreamHeaders(undefined, false),
          signal: AbortSignal.timeout(probeTimeoutMs),
          redirect: "manual",
        });
        await res.body?.cancel().catch(() => {});
        return res.status;
      } catch (err) {
        logger.debug("readiness probe failed", { replica: replica.name, err });
        return null;
      }
    },
  };
}
