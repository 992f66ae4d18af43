import { existsSync } from "node:fs";
import type { Server } from "node:http";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { EnvError, readGatewayEnv, type GatewayConfig } from "@slm/config";
import { createGatewayApp } from "./app.ts";
import { resolveApiKeys } from "./auth.ts";
import { createLogger } from "./logger.ts";

/** Node entry: env -> app -> @hono/node-server. Everything Node-specific lives here. */

const SHUTDOWN_GRACE_MS = 10_000;

function loadConfig(): GatewayConfig {
  // The repository's .env, as for inference; variables already set in the environment win.
  const dotEnv = fileURLToPath(new URL("../../../.env", import.meta.url));
  if (existsSync(dotEnv)) process.loadEnvFile(dotEnv);
  try {
    return readGatewayEnv(process.env);
  } catch (err) {
    if (err instanceof EnvError) {
      console.error(`gateway: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, base: { service: "gateway" } });

const { apiKeys, generatedKey } = resolveApiKeys(config);
if (generatedKey !== undefined) {
  // Printed once, deliberately, as a plain line (not through the logger, which never sees keys).
  console.error(
    `gateway: no GATEWAY_API_KEYS configured; generated an API key for this run: ${generatedKey}` +
      " (set GATEWAY_API_KEYS to choose your own, or GATEWAY_ALLOW_ANONYMOUS=true to disable authentication)",
  );
}

const app = createGatewayApp({ ...config, apiKeys, logger });

const server = serve({ fetch: app.fetch, hostname: config.server.host, port: config.server.port }, (info) => {
  const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
  logger.info("listening", {
    address: `http://${host}:${info.port}`,
    host: info.address,
    port: info.port,
    auth: apiKeys.length > 0 ? "api_key" : "anonymous",
    keys: apiKeys.length,
    generatedKey: generatedKey !== undefined,
    anonymous: config.allowAnonymous,
  });
}) as Server;

server.on("error", (err: NodeJS.ErrnoException) => {
  console.error(`gateway: cannot listen on ${config.server.host}:${config.server.port}: ${err.code ?? err.message}`);
  process.exit(1);
});

let stopping = false;
function shutdown(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  logger.info("shutting down", { signal });
  server.close((err) => {
    logger.info("stopped");
    process.exit(err ? 1 : 0);
  });
  server.closeIdleConnections();
  // Streams in flight get a grace period, then the connections are cut.
  setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
