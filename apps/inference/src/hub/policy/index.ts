/** The supply-chain policies: the lockfile and its enforcement, floating revisions, licences. */
export { checkLockedBaseFiles, enforceLock, lockedArtifactFor, type LockCheck } from "./enforce-lock.ts";
export { checkLicense, type LicenseFacts } from "./license-policy.ts";
export {
  DEFAULT_LOCKFILE,
  lockfilePathOf,
  readLockfile,
  writeLockfile,
  type LockedArtifact,
  type Lockfile,
} from "./lockfile.ts";
export { checkRevisionPolicy, type RevisionPolicy } from "./revision-policy.ts";
