import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { describeError, isLoopbackHost, readInferenceEnv, type DescribedError } from "@slm/config";
import { createLogger, type Logger } from "./logger.ts";
import { Readiness } from "./readiness.ts";
import { createInferenceApp } from "./http/app.ts";
import { resolveModel, type ResolvedModel } from "./hub/index.ts";
import { checkDistinctNames, LORA_CACHE_FOLDER, prepareAdapters } from "./lora/index.ts";
import { BASE_CACHE_FOLDER, prepareBase } from "./convert/index.ts";
import {
  declaresEmbeddings,
  defaultPromptCacheBytes,
  engineWithAdapter,
  inspectGguf,
  loadEngine,
  PromptCache,
  promptCacheNamespace,
  startLlama,
  warmUp,
} from "./engine/index.ts";
import { chooseChatTemplate, specialTokenTexts } from "./engine/prompt/index.ts";
import { publicModelName, type Serving } from "./serving.ts";
import { InferenceMetrics } from "./metrics.ts";
import { installShutdown } from "./shutdown.ts";

/**
 * The startup checklist, in order: read env -> resolve the revision -> download into the cache -> verify ->
 * (a transformers base: convert to GGUF, cached) -> check GGUF metadata -> load -> warm up -> ready. The HTTP server listens from the start so /health answers and
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
  const promptCache = new PromptCache({
    ...config.engine.promptCache,
    maxBytes: config.engine.promptCache.maxBytes ?? defaultPromptCacheBytes(),
    events: metrics.promptCacheEvents((operation, error) =>
      log.warn(
        { code: describeError(error, "prompt_cache_failed", "prompt cache").code, operation },
        "prompt cache: the request goes on without it",
      ),
    ),
  });
  metrics.watchPromptCache(() => promptCache.stats());
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
    log.info(
      { host: config.server.host, port: info.port, auth: config.serving.apiKey ? "bearer" : "none" },
      "inference listening",
    );
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

  /**
   * A transformers base (BASE_MODEL_FILE unset), verified file by file, converted to GGUF into the converted cache
   * beside the adapters' (reused at restart: `converted: false`); with LORA_MERGE=1 the adapter is folded in.
   */
  const convertBase = async (
    resolved: ResolvedModel,
    onProgress: (p: { doneBytes: number; totalBytes: number }) => void,
  ) => {
    const { transformersBase } = resolved;
    const lora = config.model.lora;
    if (!transformersBase || !lora) throw new Error("no base was resolved"); // resolveModel returns one or the other
    const { listing } = transformersBase;
    const find = (role: string) => resolved.artifacts.find((a) => a.role === role);
    const merge = lora.merge ? { config: find("adapter_config")!, weights: find("adapter_weights")! } : undefined;
    readiness.set({ phase: "converting" });
    const started = performance.now();
    const prepared = await prepareBase({
      base: transformersBase,
      cacheDir: join(dirname(config.hub.cacheDir), BASE_CACHE_FOLDER),
      quant: lora.baseQuant,
      merge,
      onProgress,
    });
    log.info(
      {
        model: listing.repo,
        revision: listing.revision,
        commit: listing.commit,
        files: transformersBase.files.length,
        quant: lora.baseQuant,
        merged: merge !== undefined,
        converted: prepared.converted,
        key: prepared.key,
        ms: Math.round(performance.now() - started),
      },
      "base model converted to GGUF",
    );
    const size = (await stat(prepared.path)).size;
    return {
      repo: listing.repo,
      revision: listing.revision,
      commit: listing.commit,
      file: undefined,
      /** The served name without MODEL_ALIAS (LORA_ADAPTERS lists the bare base under it): the repo's name. */
      name: listing.repo.split("/").pop()!,
      path: prepared.path,
      size,
      sha256: prepared.sha256,
      license: transformersBase.license,
      source: transformersBase.files.some((f) => f.source === "download")
        ? "download"
        : transformersBase.files[0]?.source,
      metadata: undefined,
    };
  };

  try {
    const { model, hub, engine: engineConfig } = config;
    // llama.cpp loads (and node-llama-cpp self-tests its binary) while the model resolves and downloads.
    const llama = startLlama(engineConfig.threads);
    llama.catch(() => undefined); // awaited below; a failure surfaces there
    for (const { variable, reason } of config.ignored)
      log.warn({ variable }, `${variable} is set but ignored: it ${reason}`);
    readiness.set({ phase: "resolving" });
    log.info({ model: model.id, revision: model.revision, file: model.file, offline: hub.offline }, "resolving model");
    const resolved = await resolveModel(config, {
      onProgress: (p) => readiness.set({ phase: "downloading", ...p }),
      onFallback: (reason) =>
        log.warn({ code: reason.code }, `Hub not usable, serving the cached commit: ${reason.message}`),
      onEvent: (event) => log[event.level](event.fields, event.msg),
    });
    const { artifacts } = resolved;
    readiness.set({ phase: "verifying" });
    const base = resolved.model
      ? { ...resolved.model, name: resolved.model.file }
      : await convertBase(resolved, (p) => readiness.set({ phase: "converting", ...p }));
    // Read (and validated) once by the supply chain; a GGUF llama.cpp would crash on never gets this far.
    const metadata = base.metadata ?? (await inspectGguf(base.path));
    log.info(
      {
        model: base.repo,
        revision: base.revision,
        commit: base.commit,
        file: base.file,
        size: base.size,
        sha256: base.sha256,
        license: base.license ?? null,
        source: base.source,
        architecture: metadata.architecture,
      },
      "model verified",
    );

    const lora = model.lora;
    const adapters =
      lora && !lora.merge
        ? await prepareAdapters(
            lora,
            artifacts,
            base,
            join(dirname(hub.cacheDir), LORA_CACHE_FOLDER),
            (adapter, prepared, format) => {
              const source = artifacts.find(
                (a) => a.repo === adapter.id && a.revision === adapter.revision && a.role.startsWith("adapter"),
              );
              if (
                lora.baseMatch &&
                format === "peft" &&
                prepared.declaredBase === undefined &&
                source?.cardBaseModel === undefined
              ) {
                log.warn(
                  { adapter: adapter.name },
                  "the adapter declares no base (base_model_name_or_path, card base_model): its base cannot be checked by name",
                );
              }
              const commit = source?.commit;
              log.info(
                {
                  adapter: adapter.name,
                  revision: adapter.revision,
                  commit: commit ?? null,
                  scale: lora.scale,
                  format,
                  converted: prepared.converted ?? null,
                  declaredBase: prepared.declaredBase ?? null,
                },
                "LoRA adapter ready",
              );
            },
          )
        : [];
    // One adapter (LORA_ID) is applied to the one context; LORA_ADAPTERS serves the base and a context per adapter.
    const multi = model.lora?.multi === true;
    const baseName = publicModelName(model.alias, base.name);
    if (multi) checkDistinctNames(baseName, adapters);

    readiness.set({ phase: "loading" });
    const llamaBuild = `${(await llama).buildType}:${(await llama).llamaCppRelease.release}`;
    /** A saved state belongs to one model file, adapter set and llama.cpp build (see prompt-cache/entry.ts). */
    const cacheScope = (adapter?: { filePath: string; scale: number }) =>
      promptCache.enabled
        ? promptCache.scope(
            promptCacheNamespace({
              modelSha256: base.sha256 ?? `${base.path}:${base.size}`,
              adapters: adapter ? [{ id: adapter.filePath, scale: adapter.scale }] : [],
              llamaBuild,
            }),
          )
        : undefined;
    const engine = await loadEngine({
      llama: await llama,
      modelPath: base.path,
      threads: engineConfig.threads,
      contextSize: engineConfig.contextSize,
      parallel: engineConfig.parallel,
      maxQueue: engineConfig.maxQueue,
      maxQueuePerPrincipal: engineConfig.maxQueuePerPrincipal,
      specialTokensInMessages: engineConfig.allowSpecialTokensInMessages,
      embeddings:
        engineConfig.embeddings === "on" || (engineConfig.embeddings === "auto" && declaresEmbeddings(metadata)),
      lora: multi ? undefined : adapters[0],
      grammarLimits: config.grammar,
      promptCache: cacheScope(multi ? undefined : adapters[0]),
    });
    const template = chooseChatTemplate({
      ggufTemplate: metadata.chatTemplate,
      configured: engineConfig.chatTemplate,
      ...specialTokenTexts(engine.model),
    });

    readiness.set({ phase: "warming_up" });
    const createdAt = Math.floor(Date.now() / 1000);
    const variants = multi
      ? new Map<string, Serving>([[baseName, { engine, template, modelName: baseName, createdAt }]])
      : undefined;
    for (const adapter of multi ? adapters : []) {
      const adapted = await engineWithAdapter(engine, {
        lora: adapter,
        parallel: engineConfig.parallel,
        maxQueue: engineConfig.maxQueue,
        maxQueuePerPrincipal: engineConfig.maxQueuePerPrincipal,
        promptCache: cacheScope(adapter),
      });
      variants?.set(adapter.name, { engine: adapted, template, modelName: adapter.name, createdAt });
    }
    for (const served of variants?.values() ?? [{ engine }]) await warmUp(served.engine, template);
    serving = { engine, template, modelName: lora && !multi ? lora.adapters[0]!.name : baseName, createdAt, variants };
    readiness.set({ phase: "ready" });
    log.info(
      {
        modelName: serving.modelName,
        models: variants ? [...variants.keys()] : undefined,
        chatTemplate: template.source,
        // "localBuild": our source build (`pnpm llama:build`, docs/llama-source-build.md); else node-llama-cpp's binary.
        llamaBuild: (await llama).buildType,
        threads: engine.threads,
        threadsMeasured: engine.threadMeasurements?.map(
          (m) =>
            `${m.threads}: ${Math.round(m.tokensPerSecond)} tok/s` +
            (m.batchTokensPerSecond === undefined ? "" : `, batch ${Math.round(m.batchTokensPerSecond)} tok/s`),
        ),
        contextSize: engine.contextSize,
        parallel: engineConfig.parallel,
        promptCacheBytes: promptCache.maxBytes,
        promptCacheDir: engineConfig.promptCache.dir !== undefined,
        embeddings: engine.embedder !== undefined,
        startupMs: Math.round(performance.now()),
      },
      "ready",
    );
  } catch (error) {
    readiness.set({ phase: "failed", reason: describeFailure(error).message });
    throw error;
  }
}

/** A one-line reason: our own errors carry safe messages (SafeError); anything else is named, not dumped. */
function describeFailure(error: unknown): DescribedError {
  return describeError(error, "startup_failed", "during startup");
}

main().catch((error: unknown) => {
  const { code, message } = describeFailure(error);
  log.fatal({ code }, `startup failed: ${message}`);
  log.flush?.();
  process.exit(1);
});
