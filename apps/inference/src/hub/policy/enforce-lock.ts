import type { ArtifactSpec } from "../configured-artifacts.ts";
import {
  LockedFileChangedError,
  LockedRevisionMovedError,
  LockfileMismatchError,
  type ArtifactRef,
} from "../errors.ts";
import type { Lockfile, LockedArtifact } from "./lockfile.ts";

/** A lockfile entry in force for one artifact, and where it came from (for messages). */
export interface LockCheck {
  lockfile: string;
  locked: LockedArtifact;
}

/**
 * The entry the lockfile holds for a configured artifact. The lockfile must pin exactly the configured artifacts:
 * another repo, revision or file, a missing or an extra entry is a different artifact and is refused. `specs` are
 * the artifacts named by file (configuredArtifacts); a transformers base's files are held to the lock by
 * checkLockedBaseFiles once the repo is listed.
 */
export function lockedArtifactFor(
  lock: Lockfile,
  lockfile: string,
  specs: readonly ArtifactSpec[],
  spec: ArtifactSpec,
  artifact: ArtifactRef,
): LockCheck {
  const locked = lock.artifacts.find(
    (a) => a.role === spec.role && a.adapter === spec.adapter && (spec.role !== "base_file" || a.file === spec.file),
  );
  const named = (roles: ReadonlyArray<{ role: string }>) => roles.filter((a) => a.role !== "base_file").length;
  if (!locked || (spec.role !== "base_file" && named(lock.artifacts) !== named(specs))) {
    throw new LockfileMismatchError(artifact, lockfile, "the configuration names these artifacts");
  }
  const differs = (["repo", "revision", "file"] as const).filter((key) => locked[key] !== spec[key]);
  if (differs.length > 0) {
    const was = differs.map((key) => `${key} ${locked[key]}`).join(", ");
    throw new LockfileMismatchError(
      artifact,
      lockfile,
      `the configuration asks for this artifact (the lock has ${was})`,
    );
  }
  return { lockfile, locked };
}

/** Compares what was observed (from the Hub or the cache) with the lock: a moved revision or a changed file is refused. */
export function enforceLock(
  check: LockCheck,
  observed: { commit?: string; size?: number; sha256?: string | undefined },
  artifact: ArtifactRef,
): void {
  const { locked, lockfile } = check;
  if (observed.commit !== undefined && observed.commit !== locked.commit) {
    throw new LockedRevisionMovedError(artifact, lockfile, locked.commit, observed.commit);
  }
  if (observed.size !== undefined && observed.size !== locked.size) {
    throw new LockedFileChangedError(
      artifact,
      lockfile,
      `size is ${observed.size} bytes, the lock says ${locked.size}`,
    );
  }
  if (observed.sha256 !== undefined && observed.sha256 !== locked.sha256) {
    throw new LockedFileChangedError(
      artifact,
      lockfile,
      `sha256 is ${observed.sha256}, the lock says ${locked.sha256}`,
    );
  }
}

/** A transformers base's files against the lock: the same set of files, none missing and none extra. */
export function checkLockedBaseFiles(
  lock: Lockfile,
  lockfile: string,
  files: readonly string[],
  artifact: ArtifactRef,
): void {
  const locked = lock.artifacts
    .filter((a) => a.role === "base_file")
    .map((a) => a.file)
    .sort();
  const wanted = [...files].sort();
  if (locked.length !== wanted.length || locked.some((file, i) => file !== wanted[i])) {
    throw new LockfileMismatchError(artifact, lockfile, "the base repo's files at this commit are not the ones locked");
  }
}
