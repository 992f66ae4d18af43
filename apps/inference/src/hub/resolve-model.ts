import type { InferenceConfig } from "@slm/config";
import { inspectGguf, type ModelMetadata } from "../engine/gguf-metadata.ts";
import { configuredArtifacts, isModelArtifact, type ArtifactRole, type ArtifactSpec } from "./configured-artifacts.ts";
import { lockedArtifactFor } from "./enforce-lock.ts";
import type { ArtifactRef, HubError } from "./errors.ts";
import type { EventSink } from "./events.ts";
import { checkLicense } from "./license-policy.ts";
import { lockfilePathOf, readLockfile } from "./lockfile.ts";
import { readToken } from "./read-token.ts";
import { resolveModelFile, type ResolvedModelFile } from "./resolve-model-file.ts";

export { UnsupportedModelTypeError } from "./configured-artifacts.ts";
export type { SupplyChainEvent } from "./events.ts";

export interface ResolveModelHooks {
  onProgress?: (progress: { downloadedBytes: number; totalBytes: number }) => void;
  onFallback?: (reason: HubError) => void;
  /** Retries, resumes, a floating revision, the lockfile in force: lines worth logging at `event.level`. */
  onEvent?: EventSink;
  fetch?: typeof fetch;
}

export type ResolvedArtifact = ResolvedModelFile & {
  role: ArtifactRole;
  adapter?: string | undefined;
  /** The GGUF header of a full model (base or model), read once here for the licence and reused by the engine. */
  metadata?: ModelMetadata | undefined;
};

export interface ResolvedModel {
  /** The GGUF llama.cpp loads (the base with MODEL_TYPE=lora). */
  model: ResolvedArtifact;
  /** Every configured artifact, in order (see configured-artifacts.ts for the roles). */
  artifacts: ResolvedArtifact[];
  /** The lockfile that was enforced, if any. */
  lockfile: string | undefined;
}

/**
 * Everything model resolution hands the engine, from the configuration: the supply chain's one entry (used by
 * main.ts and `pnpm models:pull`). For each configured artifact: the lockfile entry (when a lockfile exists),
 * the verified file in the cache, and the licence policy over the Hub's licence and the GGUF's general.license.
 */
export async function resolveModel(config: InferenceConfig, hooks: ResolveModelHooks = {}): Promise<ResolvedModel> {
  const { hub, supplyChain } = config;
  const specs = configuredArtifacts(config.model);
  const lockfile = lockfilePathOf(supplyChain.lockfile);
  const lock = lockfile ? await readLockfile(lockfile, refOf(specs[0]!)) : undefined;
  if (lock) hooks.onEvent?.({ level: "info", msg: "enforcing the models lockfile", fields: { lockfile } });
  const accessToken = await readToken(hub);

  const artifacts: ResolvedArtifact[] = [];
  for (const spec of specs) {
    const artifact = refOf(spec);
    const file = await resolveModelFile({
      repo: spec.repo,
      revision: spec.revision,
      file: spec.file,
      sha256: spec.sha256,
      hubUrl: hub.endpoint,
      cacheDir: hub.cacheDir,
      accessToken,
      offline: hub.offline,
      production: config.production,
      allowFloatingRevision: supplyChain.allowFloatingRevision,
      reverify: supplyChain.reverify,
      retry: supplyChain.retry,
      lock: lock && lockfile ? lockedArtifactFor(lock, lockfile, specs, spec, artifact) : undefined,
      ...hooks,
    });
    const gguf = isModelArtifact(spec.role) ? await inspectGguf(file.path) : undefined;
    const license = checkLicense({ hub: file.license, gguf: gguf?.license }, supplyChain.licensesAllowed, artifact);
    artifacts.push({ ...file, license, role: spec.role, adapter: spec.adapter, metadata: gguf });
  }
  return { model: artifacts[0]!, artifacts, lockfile: lock ? lockfile : undefined };
}

function refOf(spec: ArtifactSpec): ArtifactRef {
  return { repo: spec.repo, revision: spec.revision, file: spec.file };
}
