import type { InferenceConfig } from "@slm/config";
import { readToken } from "./read-token.ts";
import { resolveModelFile, type ResolvedModelFile } from "./resolve-model-file.ts";
import type { HubError } from "./errors.ts";

export interface ResolveModelHooks {
  onProgress?: (progress: { downloadedBytes: number; totalBytes: number }) => void;
  onFallback?: (reason: HubError) => void;
}

export interface ResolvedModel {
  /** The GGUF llama.cpp loads. */
  model: ResolvedModelFile;
}

/** Everything model resolution needs to hand the engine, from the configuration: the supply chain's one entry. */
export async function resolveModel(config: InferenceConfig, hooks: ResolveModelHooks = {}): Promise<ResolvedModel> {
  const { model, hub } = config;
  if (model.type !== "gguf" || !model.file) {
    throw new UnsupportedModelTypeError("MODEL_TYPE=lora is not supported yet: serve a GGUF with MODEL_TYPE=gguf and MODEL_FILE");
  }
  const file = await resolveModelFile({
    repo: model.id,
    revision: model.revision,
    file: model.file,
    sha256: model.sha256,
    hubUrl: hub.endpoint,
    cacheDir: hub.cacheDir,
    accessToken: await readToken(hub),
    offline: hub.offline,
    ...hooks,
  });
  return { model: file };
}

export class UnsupportedModelTypeError extends Error {
  override readonly name = "UnsupportedModelTypeError";
  readonly code = "unsupported_configuration";
}
