import type { ModelSpec } from "@slm/config";
import { UnsupportedModelTypeError } from "./errors.ts";

/**
 * What an artifact is for: "model" (the GGUF served with MODEL_TYPE=gguf), or with MODEL_TYPE=lora the "base" GGUF
 * (or, for a transformers base, each of its files as a "base_file": config, weights, tokenizer) and the adapter: a
 * GGUF adapter ("adapter") or a PEFT pair ("adapter_config" + "adapter_weights"). Each is its own artifact with its
 * own revision, resolved, locked (the lockfile keys entries by role, and base files by file too) and licence-checked
 * the same way.
 */
export const ARTIFACT_ROLES = ["model", "base", "base_file", "adapter", "adapter_config", "adapter_weights"] as const;
export type ArtifactRole = (typeof ARTIFACT_ROLES)[number];

/** The files of a PEFT adapter repo, as `save_pretrained` writes them. */
export const PEFT_CONFIG_FILE = "adapter_config.json";
export const PEFT_WEIGHTS_FILE = "adapter_model.safetensors";

export interface ArtifactSpec {
  role: ArtifactRole;
  repo: string;
  /** Branch, tag or commit, as the user wrote it. */
  revision: string;
  file: string;
  /** MODEL_SHA256, when the user pins the content. */
  sha256: string | undefined;
  /** With LORA_ADAPTERS: which adapter the artifact belongs to (lockfile entries are keyed by role and adapter). */
  adapter?: string | undefined;
}

/** A transformers base (MODEL_TYPE=lora, BASE_MODEL_FILE unset): its files are known once the repo is listed. */
export interface TransformersBaseSpec {
  repo: string;
  revision: string;
}

export function transformersBaseOf(model: ModelSpec): TransformersBaseSpec | undefined {
  if (model.type !== "lora" || !model.lora || model.lora.baseFile !== undefined) return undefined;
  return { repo: model.lora.baseModel, revision: model.lora.baseRevision };
}

/**
 * The artifacts the configuration names by file, in the order they are resolved (the GGUF llama.cpp loads first).
 * A transformers base is not among them: see transformersBaseOf and resolve-transformers-base.ts.
 */
export function configuredArtifacts(model: ModelSpec): ArtifactSpec[] {
  if (model.type === "lora" && model.lora) {
    const { lora } = model;
    const base: ArtifactSpec[] =
      lora.baseFile === undefined
        ? []
        : [{ role: "base", repo: lora.baseModel, revision: lora.baseRevision, file: lora.baseFile, sha256: undefined }];
    const adapters = lora.adapters.flatMap((spec) => {
      const adapter = (role: ArtifactRole, file: string): ArtifactSpec => ({
        role,
        repo: spec.id,
        revision: spec.revision,
        file,
        sha256: undefined,
        ...(lora.multi ? { adapter: spec.name } : {}),
      });
      return spec.file
        ? [adapter("adapter", spec.file)]
        : [adapter("adapter_config", PEFT_CONFIG_FILE), adapter("adapter_weights", PEFT_WEIGHTS_FILE)];
    });
    return [...base, ...adapters];
  }
  if (model.type !== "gguf" || !model.file) {
    throw new UnsupportedModelTypeError("MODEL_TYPE=lora needs LORA_ID (or LORA_ADAPTERS) and BASE_MODEL");
  }
  return [{ role: "model", repo: model.id, revision: model.revision, file: model.file, sha256: model.sha256 }];
}

/** Whether the artifact is a full GGUF model (its header and general.license are checked before loading). */
export function isModelArtifact(role: ArtifactRole): boolean {
  return role === "model" || role === "base";
}
