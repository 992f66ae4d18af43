import type { Server } from "node:http";
import type { Http2SecureServer, Http2Server } from "node:http2";
import type { Logger } from "./logger.ts";
import type { Readiness } from "./readiness.ts";
import { servedEngines, type Serving } from "./serving.ts";

export interface ShutdownOptions {
  server: Server | Http2Server | Http2SecureServer;
  readiness: Readiness;
  serving: () => Serving | undefined;
  log: Logger;
  /** In-flight generations may finish within this; then they are cancelled. */
  graceMs: number;
  /** Aborted when the grace period is over: in-flight generations stop at their next token. */
  cancelInFlight: AbortController;
  /** Set when the drain starts, so new requests get 503. */
  onDrain: () => void;
}

/** How long cancelled generations get to stop (one decoding step each) before connections are cut. */
const CANCEL_WAIT_MS = 5_000;

/**
 * SIGTERM / SIGINT: /ready turns 503 and new requests get 503 (load balancers stop sending); the listener closes;
 * queued requests are refused; in-flight generations may finish within the grace period, then are cancelled (their
 * clients get an error envelope or `event: error`); then the process exits 0.
 */
export function installShutdown(options: ShutdownOptions): void {
  let started = false;
  const handler = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    void drain(options, signal).then(
      () => process.exit(0),
      (error: unknown) => {
        options.log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

async function drain(options: ShutdownOptions, signal: NodeJS.Signals): Promise<void> {
  const { log } = options;
  const engines = servedEngines(options.serving());
  const engine = engines[0];
  options.onDrain();
  if (options.readiness.current.phase === "ready") options.readiness.set({ phase: "draining" });
  const closed = new Promise<void>((resolve) => options.server.close(() => resolve()));
  const inFlight = () => engines.reduce((sum, e) => sum + e.pool.busy, 0);
  log.info(
    {
      signal,
      inFlight: inFlight(),
      queued: engines.reduce((sum, e) => sum + e.pool.queued, 0),
      graceMs: options.graceMs,
    },
    "shutting down",
  );
  for (const e of engines) e.pool.close();
  engine?.embedder?.pool.close();
  const idle = async () => {
    await Promise.all([...engines.map((e) => e.pool.idle()), engine?.embedder?.pool.idle()]);
  };
  const finished = await withTimeout(idle(), options.graceMs);
  if (!finished) {
    log.warn({ inFlight: inFlight() }, "grace period over: cancelling in-flight generations");
    options.cancelInFlight.abort();
    await withTimeout(idle(), CANCEL_WAIT_MS);
  }
  // Let the last bytes (an error event, [DONE]) reach the clients, then cut what is left.
  await withTimeout(closed, 1_000);
  if ("closeAllConnections" in options.server) options.server.closeAllConnections();
  log.info({ cancelled: !finished }, "stopped");
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
