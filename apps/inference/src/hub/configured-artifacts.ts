import type { ModelSpec } from "@slm/config";

/**
 * What an artifact is for: "model" (the GGUF served with MODEL_TYPE=gguf), or with MODEL_TYPE=lora the "base" GGUF
 * and the adapter: a GGUF adapter ("adapter") or a PEFT pair ("adapter_config" + "adapter_weights"). Each is its own
 * artifact with its own revision, resolved, locked (the lockfile keys entries by role) and licence-checked the same way.
 */
export const ARTIFACT_ROLES = ["model", "base", "adapter", "adapter_config", "adapter_weights"] as const;
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

export class UnsupportedModelTypeError extends Error {
  override readonly name = "UnsupportedModelTypeError";
  readonly code = "unsupported_configuration";
}

/** The artifacts the configuration asks for, in the order they are resolved (the GGUF llama.cpp loads first). */
export function configuredArtifacts(model: ModelSpec): ArtifactSpec[] {
  if (model.type === "lora" && model.lora) {
    const { lora } = model;
    const base: ArtifactSpec = { role: "base", repo: lora.baseModel, revision: lora.baseRevision, file: lora.baseFile, sha256: undefined };
    const adapters = lora.adapters.flatMap((spec) => {
      const adapter = (role: ArtifactRole, file: string): ArtifactSpec => ({
        role,
        repo: spec.id,
        revision: spec.revision,
        file,
        sha256: undefined,
        ...(lora.multi ? { adapter: spec.name } : {}),
      });
      return spec.file ? [adapter("adapter", spec.file)] : [adapter("adapter_config", PEFT_CONFIG_FILE), adapter("adapter_weights", PEFT_WEIGHTS_FILE)];
    });
    return [base, ...adapters];
  }
  if (model.type !== "gguf" || !model.file) {
    throw new UnsupportedModelTypeError("MODEL_TYPE=lora needs LORA_ID, BASE_MODEL and BASE_MODEL_FILE");
  }
  return [{ role: "model", repo: model.id, revision: model.revision, file: model.file, sha256: model.sha256 }];
}

/** Whether the artifact is a full GGUF model (its header and general.license are checked before loading). */
export function isModelArtifact(role: ArtifactRole): boolean {
  return role === "model" || role === "base";
}
