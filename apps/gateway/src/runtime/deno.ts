import { EnvError, readGatewayEnv } from "@slm/config";
import { createLogger } from "../logger.ts";
import { startGateway } from "../start-gateway.ts";
import type { RuntimeAdapter } from "./runtime.ts";

/**
 * Deno entry: `deno run --allow-net --allow-env --allow-read --allow-sys src/runtime/deno.ts` (from apps/gateway, so
 * that node_modules resolves). Web-standard defaults for the body and the client's abort signal; Deno.serve's
 * connection info for the client address.
 */

// The little of the Deno namespace used here, so that tsc (with Node types) checks this file too.
interface DenoAddr {
  hostname: string;
  port: number;
}
declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(
    options: { hostname: string; port: number; signal: AbortSignal; onListen(addr: DenoAddr): void },
    handler: (request: Request, info: { remoteAddr: DenoAddr }) => Response | Promise<Response>,
  ): { finished: Promise<void> };
  addSignalListener(signal: "SIGTERM" | "SIGINT" | "SIGHUP", handler: () => void): void;
  readTextFile(path: string): Promise<string>;
  watchFs(path: string): AsyncIterable<{ kind: string; paths: string[] }> & { close(): void };
  exit(code: number): never;
};

let config: ReturnType<typeof readGatewayEnv>;
try {
  config = readGatewayEnv(Deno.env.toObject());
} catch (err) {
  if (err instanceof EnvError) {
    console.error(`gateway: ${err.message}`);
    Deno.exit(1);
  }
  throw err;
}

const logger = createLogger({ level: config.logLevel, base: { service: "gateway" } });
const runtime: RuntimeAdapter = {
  remoteAddress: (c) => (c.env as { remoteAddr?: DenoAddr } | undefined)?.remoteAddr?.hostname,
};

let gateway: Awaited<ReturnType<typeof startGateway>>;
try {
  gateway = await startGateway({ config, logger, runtime, readTextFile: (path) => Deno.readTextFile(path) });
} catch (err) {
  console.error(`gateway: cannot load keys: ${err instanceof Error ? err.message : String(err)}`);
  Deno.exit(1);
}
if (gateway.generatedKey !== undefined) {
  console.error(`gateway: no GATEWAY_API_KEYS configured; generated an API key for this run: ${gateway.generatedKey}`);
}

Deno.addSignalListener("SIGHUP", () => void gateway.keys.reload("SIGHUP"));
const watcher = config.keysFile === undefined ? undefined : Deno.watchFs(config.keysFile);
if (watcher) {
  void (async () => {
    try {
      for await (const _event of watcher) gateway.keys.reloadSoon("key file changed");
    } catch (err) {
      logger.warn("key file watch failed; SIGHUP still reloads", { err });
    }
  })();
}

const stop = new AbortController();
const server = Deno.serve(
  {
    hostname: config.server.host,
    port: config.server.port,
    signal: stop.signal,
    onListen: ({ hostname, port }) =>
      logger.info("listening", {
        address: `http://${hostname}:${port}`,
        host: hostname,
        port,
        runtime: "deno",
        ...gateway.summary,
      }),
  },
  (request, info) => gateway.app.fetch(request, info),
);
// GATEWAY_METRICS_PORT: /metrics without a token, for a scraper on this machine only.
const metricsServer =
  gateway.metricsApp && config.metricsPort !== undefined
    ? Deno.serve(
        {
          hostname: "127.0.0.1",
          port: config.metricsPort,
          signal: stop.signal,
          onListen: ({ port }) => logger.info("metrics listening", { host: "127.0.0.1", port }),
        },
        (request) => gateway.metricsApp!.fetch(request),
      )
    : undefined;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    logger.info("shutting down", { signal });
    watcher?.close();
    stop.abort();
  });
}
await server.finished;
await metricsServer?.finished;
await gateway.close();
logger.info("stopped");
logger.flush();
