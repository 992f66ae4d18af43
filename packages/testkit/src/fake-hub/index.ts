export { startFakeHub } from "./start-fake-hub.ts";
export type {
  BodyFaultCommon,
  CommitOptions,
  CommitSummary,
  FakeHub,
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
export { gitBlobSha1, lfsPointer, sha256Hex } from "./hashing.ts";
export { defaultIsLfs } from "./repo-store.ts";
