import { FloatingRevisionError, type ArtifactRef } from "../errors.ts";
import type { RevisionKind } from "../remote/index.ts";
import type { HubSession } from "../session.ts";

export interface RevisionPolicy {
  /** Production (a branch is refused) and MODEL_ALLOW_FLOATING_REVISION; warnings go to onEvent. */
  session: Pick<HubSession, "production" | "allowFloatingRevision" | "onEvent">;
  /** A lockfile pins the commit, so the branch cannot move what is served. */
  locked: boolean;
  /** The variable that names the revision, for messages (default MODEL_VERSION). */
  variable?: string | undefined;
}

/** A branch can move under a running service: refused in production unless allowed or locked, warned about otherwise. */
export function checkRevisionPolicy(
  kind: RevisionKind,
  commit: string,
  policy: RevisionPolicy,
  artifact: ArtifactRef,
): void {
  if (kind !== "branch") return;
  const { session } = policy;
  const fields = { repo: artifact.repo, revision: artifact.revision, commit };
  const variable = policy.variable ?? "MODEL_VERSION";
  if (policy.locked) {
    session.onEvent?.({ level: "info", msg: `${variable} is a branch; the lockfile pins its commit`, fields });
    return;
  }
  if (session.production && !session.allowFloatingRevision) throw new FloatingRevisionError(artifact, variable);
  session.onEvent?.({
    level: "warn",
    msg: `${variable} is a branch (floating): a restart may serve another commit; pin a tag or a commit, or run \`pnpm models:lock\``,
    fields,
  });
}
