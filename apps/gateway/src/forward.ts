import { ApiError, ErrorEnvelopeSchema, errorEnvelope, sseError } from "@slm/config";
import type { Context, Handler } from "hono";
import * as v from "valibot";
import { scrubEnvelope } from "./errors.ts";
import { silentLogger, type Logger } from "./logger.ts";
import type { Probe } from "./health.ts";
import type { Fetch, GatewayEnv } from "./types.ts";

/**
 * The relay to inference. Requests go out with the request id and a deadline (client disconnect or timeout, whichever
 * comes first, aborts the upstream request). Responses come back with a whitelist of headers and their body as a
 * stream, chunk by chunk, so SSE reaches the client as inference writes it.
 */

export interface ForwardOptions {
  /** Base URL of inference, without a trailing slash (as `readGatewayEnv` gives it). */
  inferenceUrl: string;
  /** Deadline for a whole upstream exchange, streamed body included. */
  timeoutMs: number;
  /** Deadline for the readiness probe. Default: min(timeoutMs, 5000). */
  probeTimeoutMs?: number;
  fetch?: Fetch;
  logger?: Logger;
}

export interface Forwarder {
  /** POST /v1/chat/completions: sends `c.var.chatRequest.body`. */
  chatCompletions: Handler<GatewayEnv>;
  /** GET /v1/models */
  models: Handler<GatewayEnv>;
  /** GET inference's /ready; its status or null if unreachable. */
  probeReady: Probe;
}

/** Response headers that may cross from inference to the public client. Everything else (server, internal
 * debugging headers, content-length/encoding that no longer match a decoded body) is dropped. */
export const RELAYED_HEADERS = ["content-type", "cache-control", "retry-after", "x-request-id"] as const;

const MAX_ERROR_BODY_BYTES = 64 * 1024;

const unavailable = () =>
  new ApiError(503, "service_unavailable", "upstream_unavailable", "The inference service is unavailable.", null, {
    "Retry-After": "1",
  });
const timedOut = () =>
  new ApiError(504, "server_error", "upstream_timeout", "The inference service did not respond in time.");
const badUpstream = () =>
  new ApiError(502, "server_error", "upstream_error", "The inference service returned an invalid response.");
const clientClosed = () =>
  new ApiError(499, "invalid_request_error", "client_closed_request", "The client closed the request.");

export function relayedHeaders(from: Headers): Headers {
  const headers = new Headers();
  for (const name of RELAYED_HEADERS) {
    const value = from.get(name);
    if (value !== null) headers.set(name, value);
  }
  return headers;
}

function isEventStream(headers: Headers): boolean {
  return headers.get("content-type")?.toLowerCase().startsWith("text/event-stream") ?? false;
}

async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= maxBytes) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(all.subarray(0, Math.min(size, maxBytes)));
}

interface Deadline {
  signal: AbortSignal;
  /** Why the exchange was aborted, if it was. */
  reason(): "client" | "timeout" | null;
}

function deadline(client: AbortSignal, timeoutMs: number): Deadline {
  const timeout = AbortSignal.timeout(timeoutMs);
  return {
    signal: AbortSignal.any([client, timeout]),
    reason: () => (client.aborted ? "client" : timeout.aborted ? "timeout" : null),
  };
}

/**
 * Passes an SSE body through one chunk at a time. If the upstream stream breaks after it started (timeout, inference
 * gone), the client gets an `event: error` with an envelope and a clean end instead of a cut connection. Cancelling
 * (the client went away) cancels the upstream body.
 */
function guardEventStream(
  body: ReadableStream<Uint8Array>,
  onBreak: (err: unknown) => Uint8Array | null,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          const tail = onBreak(err);
          if (tail) controller.enqueue(tail);
          controller.close();
        }
      },
      async cancel(reason) {
        // The upstream body may already have failed (the abort that follows a disconnect errors it first).
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}

export function createForwarder(options: ForwardOptions): Forwarder {
  const base = options.inferenceUrl.replace(/\/+$/, "");
  const logger = options.logger ?? silentLogger;
  // Resolved per call, so a global fetch replaced after startup (tests, instrumentation) is honoured.
  const doFetch: Fetch = options.fetch ?? ((url, init) => fetch(url, init));
  const probeTimeoutMs = options.probeTimeoutMs ?? Math.min(options.timeoutMs, 5000);

  async function relayError(c: Context<GatewayEnv>, upstream: Response, log: Logger): Promise<Response> {
    let text = "";
    try {
      text = await readCapped(upstream.body, MAX_ERROR_BODY_BYTES);
    } catch (err) {
      log.warn("upstream error body unreadable", { status: upstream.status, err });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (upstream.status >= 400 && v.is(ErrorEnvelopeSchema, json)) {
      log.debug("upstream error relayed", { status: upstream.status, code: json.error.code });
      const headers = relayedHeaders(upstream.headers);
      headers.set("content-type", "application/json");
      return new Response(JSON.stringify(scrubEnvelope(json, upstream.status)), { status: upstream.status, headers });
    }
    log.warn("upstream error without an envelope", { status: upstream.status, contentType: upstream.headers.get("content-type") });
    throw badUpstream();
  }

  async function proxy(c: Context<GatewayEnv>, method: "GET" | "POST", path: string, body?: string): Promise<Response> {
    const requestId = c.get("requestId");
    const log = logger.child({ requestId });
    const limit = deadline(c.req.raw.signal, options.timeoutMs);
    const headers = new Headers({ "x-request-id": requestId });
    if (body !== undefined) headers.set("content-type", "application/json");

    let upstream: Response;
    try {
      upstream = await doFetch(`${base}${path}`, { method, headers, body, signal: limit.signal, redirect: "manual" });
    } catch (err) {
      const reason = limit.reason();
      if (reason === "client") {
        log.info("client closed the request before inference answered", { path });
        throw clientClosed();
      }
      if (reason === "timeout") {
        log.warn("inference timed out", { path, timeoutMs: options.timeoutMs });
        throw timedOut();
      }
      log.warn("inference unreachable", { path, err });
      throw unavailable();
    }

    if (!upstream.ok) return relayError(c, upstream, log);

    const responseHeaders = relayedHeaders(upstream.headers);
    let responseBody: ReadableStream<Uint8Array> | null = upstream.body;
    if (responseBody && isEventStream(upstream.headers)) {
      responseHeaders.set("x-accel-buffering", "no");
      responseBody = guardEventStream(responseBody, (err) => {
        const reason = limit.reason();
        if (reason === "client") {
          log.info("client closed the stream", { path });
          return null;
        }
        if (reason === "timeout") {
          log.warn("inference timed out mid-stream", { path, timeoutMs: options.timeoutMs });
          return sseError(
            errorEnvelope("server_error", "The inference service did not respond in time.", { code: "upstream_timeout" }),
          );
        }
        log.warn("inference stream broke", { path, err });
        return sseError(
          errorEnvelope("server_error", "The inference service closed the stream unexpectedly.", { code: "upstream_error" }),
        );
      });
    }
    return new Response(responseBody, { status: upstream.status, headers: responseHeaders });
  }

  return {
    chatCompletions: (c) => proxy(c, "POST", "/v1/chat/completions", JSON.stringify(c.get("chatRequest").body)),
    models: (c) => proxy(c, "GET", "/v1/models"),
    probeReady: async () => {
      try {
        const res = await doFetch(`${base}/ready`, {
          method: "GET",
          signal: AbortSignal.timeout(probeTimeoutMs),
          redirect: "manual",
        });
        await res.body?.cancel().catch(() => {});
        return res.status;
      } catch (err) {
        logger.debug("readiness probe failed", { err });
        return null;
      }
    },
  };
}
