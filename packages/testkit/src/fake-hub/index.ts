export { startFakeHub } from "./start-fake-hub.ts";
export type {
  ApiRoute,
  BodyFaultCommon,
  CommitOptions,
  CommitSummary,
  FakeHub,
  FakeHubSettings,
  FakeOrigin,
  FakeRepoInfo,
  FaultCommon,
  FaultControls,
  FaultHandle,
  FaultKind,
  FaultSpec,
  FaultWhere,
  FileContent,
  GatedMode,
  RepoSpec,
  RequestLogEntry,
  RouteLabel,
  StartFakeHubOptions,
  TokenOptions,
} from "./types.ts";
export { seedRepoFromDir, readDirFiles, type SeedFromDirOptions } from "./seed-from-dir.ts";
export {
  FAKE_HUB_USAGE,
  parseFakeHubArgs,
  runFakeHubCommand,
  runFakeHubMain,
  type FakeHubArgs,
  type RunFakeHubOptions,
  type RunningFakeHub,
  type SeededRepoLine,
} from "./command.ts";
export { gitBlobSha1, lfsPointer, sha256Hex, xetHashOf } from "./hashing.ts";
export { defaultIsLfs } from "./repo-store.ts";
