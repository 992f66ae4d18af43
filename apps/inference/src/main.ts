import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { EnvError, readInferenceEnv } from "@slm/config";
import { createLogger, type Logger } from "./logger.ts";
import { Readiness } from "./readiness.ts";
import { createInferenceApp } from "./http/app.ts";
import { TokenFileError } from "./hub/read-token.ts";
import { resolveModel, UnsupportedModelTypeError } from "./hub/resolve-model.ts";
import { HubError } from "./hub/errors.ts";
import { inspectGguf, InvalidModelError } from "./engine/gguf-metadata.ts";
import { loadEngine } from "./engine/load-engine.ts";
import { chooseChatTemplate } from "./engine/chat-template.ts";
import { warmUp } from "./engine/warm-up.ts";
import { publicModelName, type Serving } from "./serving.ts";

/**
 * The startup checklist, in order: read env -> resolve the revision -> download into the cache -> verify ->
 * check GGUF metadata -> load -> warm up -> ready. The HTTP server listens from the start so /health answers and
 * /ready reports the phase; any failure logs one line naming what is wrong and exits 1.
 */
const rootEnv = fileURLToPath(new URL("../../../.env", import.meta.url));
if (existsSync(rootEnv)) process.loadEnvFile(rootEnv);

let log: Logger = createLogger(process.env.LOG_LEVEL ?? "info", "inference");
// @huggingface/hub prints `console.debug("Downloading <path>")` on stdout; keep stdout pure JSON.
console.debug = (...args: unknown[]) => log.debug(args.map(String).join(" "));

async function main(): Promise<void> {
  const config = readInferenceEnv(process.env);
  log = createLogger(config.logLevel, "inference");
  const readiness = new Readiness();
  let serving: Serving | undefined;

  const app = createInferenceApp({ readiness, serving: () => serving, log });
  const server = serve({ fetch: app.fetch, hostname: config.server.host, port: config.server.port }, (info) => {
    log.info({ host: config.server.host, port: info.port }, "inference listening");
  });
  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down");
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));

  try {
    const { model, hub, engine: engineConfig } = config;
    readiness.set({ phase: "resolving" });
    log.info({ model: model.id, revision: model.revision, file: model.file, offline: hub.offline }, "resolving model");
    const { model: file } = await resolveModel(config, {
      onProgress: (p) => readiness.set({ phase: "downloading", ...p }),
      onFallback: (reason) => log.warn({ code: reason.code }, `Hub not usable, serving the cached commit: ${reason.message}`),
    });
    readiness.set({ phase: "verifying" });
    const metadata = await inspectGguf(file.path);
    log.info(
      {
        model: file.repo,
        revision: file.revision,
        commit: file.commit,
        file: file.file,
        size: file.size,
        sha256: file.sha256,
        license: file.license ?? metadata.license ?? null,
        source: file.source,
        architecture: metadata.architecture,
      },
      "model verified",
    );

    readiness.set({ phase: "loading" });
    const engine = await loadEngine({
      modelPath: file.path,
      threads: engineConfig.threads,
      contextSize: engineConfig.contextSize,
      parallel: engineConfig.parallel,
      maxQueue: engineConfig.maxQueue,
    });
    const template = chooseChatTemplate({ ggufTemplate: metadata.chatTemplate, configured: engineConfig.chatTemplate });

    readiness.set({ phase: "warming_up" });
    await warmUp(engine, template);
    serving = { engine, template, modelName: publicModelName(model.alias, file.file), createdAt: Math.floor(Date.now() / 1000) };
    readiness.set({ phase: "ready" });
    log.info(
      {
        modelName: serving.modelName,
        chatTemplate: template.source,
        threads: engineConfig.threads,
        contextSize: engine.contextSize,
        parallel: engineConfig.parallel,
        startupMs: Math.round(performance.now()),
      },
      "ready",
    );
  } catch (error) {
    readiness.set({ phase: "failed", reason: describeFailure(error) });
    throw error;
  }
}

/** A one-line reason: our own errors carry safe messages; anything else is named, not dumped. */
function describeFailure(error: unknown): string {
  if (
    error instanceof HubError ||
    error instanceof EnvError ||
    error instanceof InvalidModelError ||
    error instanceof TokenFileError ||
    error instanceof UnsupportedModelTypeError
  ) {
    return error.message;
  }
  return `unexpected ${error instanceof Error ? error.name : "failure"} during startup`;
}

main().catch((error: unknown) => {
  const code = (error as { code?: unknown })?.code;
  log.fatal({ code: typeof code === "string" ? code : "startup_failed" }, `startup failed: ${describeFailure(error)}`);
  log.flush?.();
  process.exit(1);
});
