/**
 * The Hub supply chain, as the rest of the app sees it: resolve the configured artifacts (revision -> commit, held to
 * the lockfile and the policies, verified in the Python-compatible cache), lock them, and the errors it throws.
 * Inside: `remote/` talks to the Hub, `cache/` keeps verified blobs, `policy/` decides what is allowed; the flows
 * that combine them for one artifact sit beside this file.
 */
export { resolveModel, type ResolvedArtifact, type ResolvedModel } from "./resolve-model.ts";
export { resolveModelFile, type ResolvedModelFile, type ResolveModelFileParams } from "./resolve-model-file.ts";
export {
  resolveTransformersBase,
  SAFETENSORS_INDEX,
  type ResolvedTransformersBase,
  type ResolveTransformersBaseParams,
} from "./resolve-transformers-base.ts";
export type { RepoListing } from "./list-repo-files.ts";
export { lockModels, type LockModelsHooks } from "./lock-models.ts";
export { lockfilePathOf, readLockfile, writeLockfile, type LockedArtifact, type Lockfile } from "./policy/index.ts";
export {
  ARTIFACT_ROLES,
  configuredArtifacts,
  transformersBaseOf,
  type ArtifactRole,
  type ArtifactSpec,
  type TransformersBaseSpec,
} from "./configured-artifacts.ts";
export {
  createHubSession,
  readToken,
  type DownloadProgress,
  type EventSink,
  type HubHooks,
  type HubSession,
  type HubSessionOptions,
  type SupplyChainEvent,
} from "./session.ts";
export * from "./errors.ts";
