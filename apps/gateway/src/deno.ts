import { EnvError, readGatewayEnv } from "@slm/config";
import { createGatewayApp } from "./app.ts";
import { resolveApiKeys } from "./auth.ts";
import { createLogger } from "./logger.ts";

/** Deno entry: `deno run --allow-net --allow-env --allow-read src/deno.ts`. Not covered by tests yet. */

// The little of the Deno namespace used here, so that tsc (with Node types) checks this file too.
declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(
    options: { hostname: string; port: number; signal: AbortSignal; onListen(addr: { hostname: string; port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void> };
  addSignalListener(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  exit(code: number): never;
};

let config;
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
const { apiKeys, generatedKey } = resolveApiKeys(config);
if (generatedKey !== undefined) {
  console.error(`gateway: no GATEWAY_API_KEYS configured; generated an API key for this run: ${generatedKey}`);
}
const app = createGatewayApp({ ...config, apiKeys, logger });

const stop = new AbortController();
const server = Deno.serve(
  {
    hostname: config.server.host,
    port: config.server.port,
    signal: stop.signal,
    onListen: ({ hostname, port }) => logger.info("listening", { address: `http://${hostname}:${port}`, host: hostname, port }),
  },
  app.fetch,
);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    logger.info("shutting down", { signal });
    stop.abort();
  });
}
await server.finished;
logger.info("stopped");
