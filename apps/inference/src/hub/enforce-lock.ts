import type { ArtifactSpec } from "./configured-artifacts.ts";
import {
  LockedFileChangedError,
  LockedRevisionMovedError,
  LockfileMismatchError,
  type ArtifactRef,
} from "./errors.ts";
import type { Lockfile, LockedArtifact } from "./lockfile.ts";

/** A lockfile entry in force for one artifact, and where it came from (for messages). */
export interface LockCheck {
  lockfile: string;
  locked: LockedArtifact;
}

/**
 * The entry the lockfile holds for a configured artifact. The lockfile must pin exactly the configured artifacts:
 * another repo, revision or file, a missing or an extra entry is a different artifact and is refused.
 */
export function lockedArtifactFor(lock: Lockfile, lockfile: string, specs: readonly ArtifactSpec[], spec: ArtifactSpec, artifact: ArtifactRef): LockCheck {
  const locked = lock.artifacts.find((a) => a.role === spec.role && a.adapter === spec.adapter);
  if (!locked || lock.artifacts.length !== specs.length) {
    throw new LockfileMismatchError(artifact, lockfile, "the configuration names these artifacts");
  }
  const differs = (["repo", "revision", "file"] as const).filter((key) => locked[key] !== spec[key]);
  if (differs.length > 0) {
    const was = differs.map((key) => `${key} ${locked[key]}`).join(", ");
    throw new LockfileMismatchError(artifact, lockfile, `the configuration asks for this artifact (the lock has ${was})`);
  }
  return { lockfile, locked };
}

/** Compares what was observed (from the Hub or the cache) with the lock: a moved revision or a changed file is refused. */
export function enforceLock(check: LockCheck, observed: { commit?: string; size?: number; sha256?: string | undefined }, artifact: ArtifactRef): void {
  const { locked, lockfile } = check;
  if (observed.commit !== undefined && observed.commit !== locked.commit) {
    throw new LockedRevisionMovedError(artifact, lockfile, locked.commit, observed.commit);
  }
  if (observed.size !== undefined && observed.size !== locked.size) {
    throw new LockedFileChangedError(artifact, lockfile, `size is ${observed.size} bytes, the lock says ${locked.size}`);
  }
  if (observed.sha256 !== undefined && observed.sha256 !== locked.sha256) {
    throw new LockedFileChangedError(artifact, lockfile, `sha256 is ${observed.sha256}, the lock says ${locked.sha256}`);
  }
}
