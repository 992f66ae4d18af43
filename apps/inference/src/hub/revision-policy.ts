import { FloatingRevisionError, type ArtifactRef } from "./errors.ts";
import type { EventSink } from "./events.ts";
import type { RevisionKind } from "./resolve-revision.ts";

export interface RevisionPolicy {
  production: boolean;
  /** MODEL_ALLOW_FLOATING_REVISION */
  allowFloating: boolean;
  /** A lockfile pins the commit, so the branch cannot move what is served. */
  locked: boolean;
  /** The variable that names the revision, for messages (default MODEL_VERSION). */
  variable?: string;
}

/** A branch can move under a running service: refused in production unless allowed or locked, warned about otherwise. */
export function checkRevisionPolicy(
  kind: RevisionKind,
  commit: string,
  policy: RevisionPolicy,
  artifact: ArtifactRef,
  onEvent?: EventSink,
): void {
  if (kind !== "branch") return;
  const fields = { repo: artifact.repo, revision: artifact.revision, commit };
  const variable = policy.variable ?? "MODEL_VERSION";
  if (policy.locked) {
    onEvent?.({ level: "info", msg: `${variable} is a branch; the lockfile pins its commit`, fields });
    return;
  }
  if (policy.production && !policy.allowFloating) throw new FloatingRevisionError(artifact, variable);
  onEvent?.({
    level: "warn",
    msg: `${variable} is a branch (floating): a restart may serve another commit; pin a tag or a commit, or run \`pnpm models:lock\``,
    fields,
  });
}
