import type { ModelSpec } from "@slm/config";

/**
 * What an artifact is for. Only "model" (the GGUF llama.cpp loads) exists today; LoRA will add a base model and an
 * adapter, each its own artifact with its own revision, resolved, locked and licence-checked the same way.
 */
export type ArtifactRole = "model";

export interface ArtifactSpec {
  role: ArtifactRole;
  repo: string;
  /** Branch, tag or commit, as the user wrote it. */
  revision: string;
  file: string;
  /** MODEL_SHA256, when the user pins the content. */
  sha256: string | undefined;
}

export class UnsupportedModelTypeError extends Error {
  override readonly name = "UnsupportedModelTypeError";
  readonly code = "unsupported_configuration";
}

/** The artifacts the configuration asks for, in the order they are resolved. */
export function configuredArtifacts(model: ModelSpec): ArtifactSpec[] {
  if (model.type !== "gguf" || !model.file) {
    throw new UnsupportedModelTypeError("MODEL_TYPE=lora is not supported yet: serve a GGUF with MODEL_TYPE=gguf and MODEL_FILE");
  }
  return [{ role: "model", repo: model.id, revision: model.revision, file: model.file, sha256: model.sha256 }];
}
