import type { InferenceConfig } from "@slm/config";
import { inspectGguf, type ModelMetadata } from "../engine/index.ts";
import { checkAdapterCompatibility, type AdapterFacts } from "../lora/index.ts";
import {
  configuredArtifacts,
  isModelArtifact,
  transformersBaseOf,
  type ArtifactRole,
  type ArtifactSpec,
} from "./configured-artifacts.ts";
import type { ArtifactRef } from "./errors.ts";
import { checkLicense, lockedArtifactFor, lockfilePathOf, readLockfile } from "./policy/index.ts";
import { resolveRepoFiles, type ResolvedModelFile } from "./resolve-model-file.ts";
import { resolveTransformersBase, type ResolvedTransformersBase } from "./resolve-transformers-base.ts";
import { hubSessionFromConfig, type HubHooks } from "./session.ts";

export type ResolvedArtifact = ResolvedModelFile & {
  role: ArtifactRole;
  adapter?: string | undefined;
  /** The GGUF header of a full model (base or model), read once here for the licence and reused by the engine. */
  metadata?: ModelMetadata | undefined;
};

export interface ResolvedModel {
  /**
   * The GGUF llama.cpp loads (the base with MODEL_TYPE=lora); undefined when the base is a transformers repo, which
   * is converted afterwards (convert/prepare-base.ts) from `transformersBase`.
   */
  model: ResolvedArtifact | undefined;
  /** Every configured artifact, in order (see configured-artifacts.ts for the roles); a transformers base's files first. */
  artifacts: ResolvedArtifact[];
  /** MODEL_TYPE=lora with BASE_MODEL_FILE unset: the base repo's listing and its verified files. */
  transformersBase: ResolvedTransformersBase | undefined;
  /** The lockfile that was enforced, if any. */
  lockfile: string | undefined;
}

/**
 * Everything model resolution hands the engine, from the configuration: the supply chain's one entry (used by
 * main.ts and `pnpm models:pull`). For each configured artifact: the lockfile entry (when a lockfile exists),
 * the verified file in the cache, and the licence policy over the Hub's licence and the GGUF's general.license.
 */
export async function resolveModel(config: InferenceConfig, hooks: HubHooks = {}): Promise<ResolvedModel> {
  const { supplyChain } = config;
  const specs = configuredArtifacts(config.model);
  const transformers = transformersBaseOf(config.model);
  const lockfile = lockfilePathOf(supplyChain.lockfile);
  const lock = lockfile ? await readLockfile(lockfile, transformers ?? refOf(specs[0]!)) : undefined;
  if (lock) hooks.onEvent?.({ level: "info", msg: "enforcing the models lockfile", fields: { lockfile } });
  const session = await hubSessionFromConfig(config, hooks);

  const artifacts: ResolvedArtifact[] = [];
  // Consecutive artifacts of one repo at one revision (a PEFT adapter's config and weights) share one revision
  // lookup and one paths-info request; a base is still resolved and checked before its adapter is downloaded.
  for (const group of sameRepoRuns(specs)) {
    const files = await resolveRepoFiles({
      session,
      repo: group[0]!.repo,
      revision: group[0]!.revision,
      files: group.map((spec) => ({
        file: spec.file,
        sha256: spec.sha256,
        lock: lock && lockfile ? lockedArtifactFor(lock, lockfile, specs, spec, refOf(spec)) : undefined,
      })),
    });
    for (const [i, spec] of group.entries()) {
      const file = files[i]!;
      const gguf = isModelArtifact(spec.role) ? await inspectGguf(file.path) : undefined;
      const license = checkLicense({ hub: file.license, gguf: gguf?.license }, session.licensesAllowed, refOf(spec));
      artifacts.push({ ...file, license, role: spec.role, adapter: spec.adapter, metadata: gguf });
    }
  }
  const lora = config.model.lora;
  const checkAdapters = async (base: { repo: string; license: string | undefined }) => {
    if (lora)
      await checkAdapterCompatibility({
        lora,
        adapters: adapterFacts(lora, artifacts),
        base,
        licensesAllowed: session.licensesAllowed,
      });
  };
  if (!transformers) {
    await checkAdapters({ repo: artifacts[0]!.repo, license: artifacts[0]!.license });
    return { model: artifacts[0]!, artifacts, transformersBase: undefined, lockfile: lock ? lockfile : undefined };
  }
  // A transformers base: the (small) adapter files came first, so the adapter's licence and declared base are
  // checked against the listed base before any of the base's weights is downloaded.
  const base = await resolveTransformersBase({
    session,
    base: transformers,
    lock: lock && lockfile ? { lockfile, lock, specs } : undefined,
    beforeDownload: (listing) => checkAdapters({ repo: listing.repo, license: listing.license }),
  });
  const baseFiles = base.files.map(
    (file): ResolvedArtifact => ({ ...file, license: base.license ?? file.license, role: "base_file" }),
  );
  return {
    model: undefined,
    artifacts: [...baseFiles, ...artifacts],
    transformersBase: base,
    lockfile: lock ? lockfile : undefined,
  };
}

/** Each configured adapter's facts, from its resolved artifacts (adapter_config for PEFT, the GGUF otherwise). */
function adapterFacts(
  lora: NonNullable<InferenceConfig["model"]["lora"]>,
  artifacts: readonly ResolvedArtifact[],
): AdapterFacts[] {
  return lora.adapters.flatMap((spec) => {
    const key = lora.multi ? spec.name : undefined;
    const config = artifacts.find((a) => a.role === "adapter_config" && a.adapter === key);
    const found = config ?? artifacts.find((a) => a.role === "adapter" && a.adapter === key);
    if (!found) return [];
    return [{ repo: found.repo, license: found.license, cardBaseModel: found.cardBaseModel, configPath: config?.path }];
  });
}

/** The specs in runs of the same repo and revision, in order. */
function sameRepoRuns(specs: readonly ArtifactSpec[]): ArtifactSpec[][] {
  const runs: ArtifactSpec[][] = [];
  for (const spec of specs) {
    const run = runs.at(-1);
    if (run && run[0]!.repo === spec.repo && run[0]!.revision === spec.revision) run.push(spec);
    else runs.push([spec]);
  }
  return runs;
}

function refOf(spec: Pick<ArtifactSpec, "repo" | "revision" | "file">): ArtifactRef {
  return { repo: spec.repo, revision: spec.revision, file: spec.file };
}
