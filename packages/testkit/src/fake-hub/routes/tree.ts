import { authorizeRepo } from "../access.ts";
import { sendEntryNotFound, sendRevisionNotFound } from "../errors.ts";
import { sendJson } from "../http-utils.ts";
import { directoriesOf } from "../repo-store.ts";
import { splitRevision } from "../revision.ts";
import type { RouteContext } from "./context.ts";
import { listTree } from "./entries.ts";

function flag(value: string | null): boolean {
  return value === "1" || value === "true" || value === "True";
}

/** `GET /api/models/{repo}/tree/{rev}[/{dir}]?recursive=&expand=` (the revision may arrive unencoded). */
export function handleTree(ctx: RouteContext): void {
  const repo = authorizeRepo(ctx.state, ctx.res, ctx.credentials, ctx.repoId, { files: false });
  if (!repo) return;
  const { revision, commit, rest } = splitRevision(repo, ctx.rest, 0);
  if (!commit) {
    sendRevisionNotFound(ctx.res, revision);
    return;
  }
  const dir = rest.join("/");
  if (dir !== "" && !directoriesOf(commit).has(dir)) {
    sendEntryNotFound(ctx.res, commit.id);
    return;
  }
  const recursive = flag(ctx.url.searchParams.get("recursive"));
  const expand = flag(ctx.url.searchParams.get("expand"));
  sendJson(ctx.res, 200, listTree(commit, dir, recursive, expand, repo.xet), { "X-Repo-Commit": commit.id });
}
