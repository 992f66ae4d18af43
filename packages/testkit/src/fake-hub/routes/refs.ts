import { authorizeRepo } from "../access.ts";
import { sendJson } from "../http-utils.ts";
import type { RouteContext } from "./context.ts";

/** `GET /api/models/{repo}/refs[?include_prs=1]` */
export function handleRefs(ctx: RouteContext): void {
  const repo = authorizeRepo(ctx.state, ctx.res, ctx.credentials, ctx.repoId, { files: false });
  if (!repo) return;
  const includePrs = ["1", "true"].includes(ctx.url.searchParams.get("include_prs") ?? "");
  const branches = [...repo.branches].filter(([name]) => !name.startsWith("refs/pr/"));
  const prs = [...repo.branches].filter(([name]) => name.startsWith("refs/pr/"));
  sendJson(ctx.res, 200, {
    branches: branches.map(([name, sha]) => ({ name, ref: `refs/heads/${name}`, targetCommit: sha })),
    tags: [...repo.tags].map(([name, sha]) => ({ name, ref: `refs/tags/${name}`, targetCommit: sha })),
    converts: [],
    ...(includePrs
      ? { pullRequests: prs.map(([ref, sha]) => ({ name: ref.slice("refs/pr/".length), ref, targetCommit: sha })) }
      : {}),
  });
}
