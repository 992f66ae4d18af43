import { existsSync, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { EnvError, readGatewayEnv, type GatewayConfig } from "@slm/config";
import { createLogger } from "../logger.ts";
import { startGateway } from "../start-gateway.ts";
import { capConnectionsPerAddress, type ConnectionCap } from "./connection-cap.ts";
import { nodeRuntime } from "./node-runtime.ts";
import { createNodeUpstream } from "./node-upstream.ts";

/**
 * Node entry: env -> gateway -> @hono/node-server, key reloads, shutdown. Everything Node-specific lives here, in
 * node-runtime.ts (reading Node's request) and in node-upstream.ts (the transport to inference).
 */

const SHUTDOWN_GRACE_MS = 10_000;

function loadConfig(): GatewayConfig {
  // The repository's .env, as for inference; variables already set in the environment win.
  const dotEnv = fileURLToPath(new URL("../../../../.env", import.meta.url));
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
// The lean HTTP/1.1 transport for http:// replicas (see node-upstream.ts); https:// ones use the global fetch.
const upstream = config.inferenceUrls.every((u) => u.startsWith("http://"))
  ? createNodeUpstream({ maxConnections: config.limits.maxInflightPerReplica })
  : undefined;

let gateway: Awaited<ReturnType<typeof startGateway>>;
try {
  gateway = await startGateway({
    config,
    logger,
    runtime: nodeRuntime(),
    fetch: upstream?.fetch,
    readTextFile: (path) => readFile(path, "utf8"),
  });
} catch (err) {
  // KeyFileError names paths in the file, never values; a read error names the file.
  console.error(`gateway: cannot load keys: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
if (gateway.generatedKey !== undefined) {
  // Printed once, deliberately, as a plain line (not through the logger, which never sees keys).
  console.error(
    `gateway: no GATEWAY_API_KEYS configured; generated an API key for this run: ${gateway.generatedKey}` +
      " (set GATEWAY_API_KEYS or GATEWAY_KEYS_FILE to choose your own, or GATEWAY_ALLOW_ANONYMOUS=true to disable authentication)",
  );
}

// Key rotation without a restart: SIGHUP, or the key file changing (its directory is watched, so editors that
// replace the file and Kubernetes' symlink swaps are seen too).
process.on("SIGHUP", () => void gateway.keys.reload("SIGHUP"));
if (config.keysFile !== undefined) {
  const file = basename(config.keysFile);
  watch(dirname(config.keysFile), { persistent: false }, (_event, name) => {
    if (name === null || name === file || name.startsWith("..")) gateway.keys.reloadSoon("key file changed");
  }).on("error", (err) => logger.warn("key file watch failed; SIGHUP still reloads", { err }));
}

// GATEWAY_MAX_CONNECTIONS_PER_IP: a connection over its address's cap gets a 429 instead of being served.
let cap: ConnectionCap | undefined;
const fetchCapped: Parameters<typeof serve>[0]["fetch"] = (request, env) =>
  cap?.refusal(env.incoming as IncomingMessage) ?? gateway.app.fetch(request, env);
const server = serve({ fetch: fetchCapped, hostname: config.server.host, port: config.server.port }, (info) => {
  const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
  logger.info("listening", {
    address: `http://${host}:${info.port}`,
    host: info.address,
    port: info.port,
    runtime: "node",
    ...gateway.summary,
  });
}) as Server;
server.keepAliveTimeout = 65_000;
cap = capConnectionsPerAddress(server, { maxPerAddress: config.limits.maxConnectionsPerIp, logger });

// GATEWAY_METRICS_PORT: /metrics without a token, for a scraper on this machine only.
const metricsServer =
  gateway.metricsApp && config.metricsPort !== undefined
    ? (serve({ fetch: gateway.metricsApp.fetch, hostname: "127.0.0.1", port: config.metricsPort }, (info) => {
        logger.info("metrics listening", { host: "127.0.0.1", port: info.port });
      }) as Server)
    : undefined;
metricsServer?.on("error", (err: NodeJS.ErrnoException) => {
  logger.flush();
  console.error(`gateway: cannot listen on 127.0.0.1:${config.metricsPort} for metrics: ${err.code ?? err.message}`);
  process.exit(1);
});

server.on("error", (err: NodeJS.ErrnoException) => {
  logger.flush();
  console.error(`gateway: cannot listen on ${config.server.host}:${config.server.port}: ${err.code ?? err.message}`);
  process.exit(1);
});

let stopping = false;
function shutdown(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  logger.info("shutting down", { signal });
  metricsServer?.close();
  server.close((err) => {
    upstream?.close();
    void gateway.close().finally(() => {
      logger.info("stopped");
      logger.flush();
      process.exit(err ? 1 : 0);
    });
  });
  server.closeIdleConnections();
  // Streams in flight get a grace period, then the connections are cut.
  setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
