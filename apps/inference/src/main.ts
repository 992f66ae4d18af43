import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { EnvError, isLoopbackHost, readInferenceEnv } from "@slm/config";
import { createLogger, type Logger } from "./logger.ts";
import { Readiness } from "./readiness.ts";
import { createInferenceApp } from "./http/app.ts";
import { TokenFileError } from "./hub/read-token.ts";
import { resolveModel, UnsupportedModelTypeError } from "./hub/resolve-model.ts";
import { LoraError } from "./lora/errors.ts";
import { LORA_CACHE_FOLDER } from "./lora/prepare-adapter.ts";
import { prepareAdapters } from "./lora/prepare-adapters.ts";
import { checkDistinctNames } from "./lora/check-distinct-names.ts";
import { engineWithAdapter } from "./engine/engine-with-adapter.ts";
import { HubError } from "./hub/errors.ts";
import { declaresEmbeddings, inspectGguf, InvalidModelError } from "./engine/gguf-metadata.ts";
import { loadEngine } from "./engine/load-engine.ts";
import { startLlama } from "./engine/start-llama.ts";
import { ChatTemplateError, chooseChatTemplate, specialTokenTexts } from "./engine/prompt/index.ts";
import { warmUp } from "./engine/warm-up.ts";
import { publicModelName, type Serving } from "./serving.ts";
import { InferenceMetrics } from "./metrics.ts";
import { installShutdown } from "./shutdown.ts";

/**
 * The startup checklist, in order: read env -> resolve the revision -> download into the cache -> verify ->
 * check GGUF metadata -> load -> warm up -> ready. The HTTP server listens from the start so /health answers and
 * /ready reports the phase; any failure logs one line naming what is wrong and exits 1.
 */
const rootEnv = fileURLToPath(new URL("../../../.env", import.meta.url));
if (existsSync(rootEnv)) process.loadEnvFile(rootEnv);

let log: Logger = createLogger(process.env.LOG_LEVEL ?? "info", "inference");

async function main(): Promise<void> {
  const config = readInferenceEnv(process.env);
  log = createLogger(config.logLevel, "inference");
  const readiness = new Readiness();
  let serving: Serving | undefined;

  const metrics = new InferenceMetrics();
  metrics.watchPool(() => serving?.engine.pool);
  const cancelInFlight = new AbortController();
  let draining = false;

  const app = createInferenceApp({
    readiness,
    serving: () => serving,
    log,
    metrics,
    apiKey: config.serving.apiKey,
    maxBodyBytes: config.serving.maxBodyBytes,
    requestTimeoutMs: config.serving.requestTimeoutMs,
    draining: () => draining,
    shutdown: cancelInFlight.signal,
  });
  const server = serve({ fetch: app.fetch, hostname: config.server.host, port: config.server.port }, (info) => {
    log.info({ host: config.server.host, port: info.port, auth: config.serving.apiKey ? "bearer" : "none" }, "inference listening");
    if (!config.serving.apiKey && !isLoopbackHost(config.server.host)) {
      log.warn(
        { host: config.server.host },
        "listening beyond this machine without INFERENCE_API_KEY: anyone who reaches this port can use the model around the gateway",
      );
    }
  });
  installShutdown({
    server,
    readiness,
    serving: () => serving,
    log,
    graceMs: config.serving.shutdownGraceMs,
    cancelInFlight,
    onDrain: () => (draining = true),
  });

  try {
    const { model, hub, engine: engineConfig } = config;
    // llama.cpp loads (and node-llama-cpp self-tests its binary) while the model resolves and downloads.
    const llama = startLlama(engineConfig.threads);
    llama.catch(() => undefined); // awaited below; a failure surfaces there
    readiness.set({ phase: "resolving" });
    log.info({ model: model.id, revision: model.revision, file: model.file, offline: hub.offline }, "resolving model");
    const { model: file, artifacts } = await resolveModel(config, {
      onProgress: (p) => readiness.set({ phase: "downloading", ...p }),
      onFallback: (reason) => log.warn({ code: reason.code }, `Hub not usable, serving the cached commit: ${reason.message}`),
      onEvent: (event) => log[event.level](event.fields, event.msg),
    });
    readiness.set({ phase: "verifying" });
    // Read (and validated) once by the supply chain; a GGUF llama.cpp would crash on never gets this far.
    const metadata = file.metadata ?? (await inspectGguf(file.path));
    log.info(
      {
        model: file.repo,
        revision: file.revision,
        commit: file.commit,
        file: file.file,
        size: file.size,
        sha256: file.sha256,
        license: file.license ?? null,
        source: file.source,
        architecture: metadata.architecture,
      },
      "model verified",
    );

    const adapters = model.lora
      ? await prepareAdapters(model.lora, artifacts, join(dirname(hub.cacheDir), LORA_CACHE_FOLDER), (adapter, prepared, format) => {
          if (model.lora?.baseMatch && format === "peft" && prepared.declaredBase === undefined) {
            log.warn({ adapter: adapter.name }, "the adapter declares no base_model_name_or_path: its base cannot be checked by name");
          }
          log.info(
            { adapter: adapter.name, revision: adapter.revision, scale: model.lora?.scale, format, converted: prepared.converted ?? null, declaredBase: prepared.declaredBase ?? null },
            "LoRA adapter ready",
          );
        })
      : [];
    // One adapter (LORA_ID) is applied to the one context; LORA_ADAPTERS serves the base and a context per adapter.
    const multi = model.lora?.multi === true;
    const baseName = publicModelName(model.alias, file.file);
    if (multi) checkDistinctNames(baseName, adapters);

    readiness.set({ phase: "loading" });
    const engine = await loadEngine({
      llama: await llama,
      modelPath: file.path,
      threads: engineConfig.threads,
      contextSize: engineConfig.contextSize,
      parallel: engineConfig.parallel,
      maxQueue: engineConfig.maxQueue,
      embeddings: engineConfig.embeddings === "on" || (engineConfig.embeddings === "auto" && declaresEmbeddings(metadata)),
      lora: multi ? undefined : adapters[0],
    });
    const template = chooseChatTemplate({
      ggufTemplate: metadata.chatTemplate,
      configured: engineConfig.chatTemplate,
      ...specialTokenTexts(engine.model),
    });

    readiness.set({ phase: "warming_up" });
    const createdAt = Math.floor(Date.now() / 1000);
    const variants = multi ? new Map<string, Serving>([[baseName, { engine, template, modelName: baseName, createdAt }]]) : undefined;
    for (const adapter of multi ? adapters : []) {
      const adapted = await engineWithAdapter(engine, { lora: adapter, parallel: engineConfig.parallel, maxQueue: engineConfig.maxQueue });
      variants?.set(adapter.name, { engine: adapted, template, modelName: adapter.name, createdAt });
    }
    for (const served of variants?.values() ?? [{ engine }]) await warmUp(served.engine, template);
    serving = { engine, template, modelName: model.lora && !multi ? adapters[0]!.name : baseName, createdAt, variants };
    readiness.set({ phase: "ready" });
    log.info(
      {
        modelName: serving.modelName,
        models: variants ? [...variants.keys()] : undefined,
        chatTemplate: template.source,
        threads: engine.threads,
        threadsMeasured: engine.threadMeasurements?.map(
          (m) =>
            `${m.threads}: ${Math.round(m.tokensPerSecond)} tok/s` +
            (m.batchTokensPerSecond === undefined ? "" : `, batch ${Math.round(m.batchTokensPerSecond)} tok/s`),
        ),
        contextSize: engine.contextSize,
        parallel: engineConfig.parallel,
        embeddings: engine.embedder !== undefined,
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
    error instanceof UnsupportedModelTypeError ||
    error instanceof LoraError ||
    error instanceof ChatTemplateError
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
