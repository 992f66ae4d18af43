import { randomBytes } from "node:crypto";
import { authorizeRepo } from "../access.ts";
import { sendRevisionNotFound } from "../errors.ts";
import { sendJson } from "../http-utils.ts";
import type { RouteContext } from "./context.ts";

/**
 * `GET /api/models/{repo}/xet-read-token/{rev}`: what a Xet client asks for before talking to the CAS (the resolve
 * reply's `Link: <...>; rel="xet-auth"` points here). A plain downloader never needs it; tests assert it is not asked.
 */
export function handleXetReadToken(ctx: RouteContext): void {
  const repo = authorizeRepo(ctx.state, ctx.res, ctx.credentials, ctx.repoId, { files: true });
  if (!repo) return;
  const revision = ctx.rest.join("/");
  const commit = repo.resolveRevision(revision);
  if (!commit) {
    sendRevisionNotFound(ctx.res, revision);
    return;
  }
  sendJson(
    ctx.res,
    200,
    {
      accessToken: `xet_${randomBytes(16).toString("hex")}`,
      exp: Math.floor(Date.now() / 1000) + 3600,
      casUrl: `${ctx.state.bridgeUrl()}/cas`,
    },
    { "X-Repo-Commit": commit.id },
  );
}
