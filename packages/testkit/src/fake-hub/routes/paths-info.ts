import { authorizeRepo } from "../access.ts";
import { sendHubError, sendRevisionNotFound } from "../errors.ts";
import { readBody, sendJson } from "../http-utils.ts";
import type { RouteContext } from "./context.ts";
import { entryAt, type ApiPathEntry } from "./entries.ts";

interface PathsInfoRequest {
  paths: string[];
  expand: boolean;
}

function truthy(value: unknown): boolean {
  return value === true || value === "true" || value === "1" || value === "True" || value === 1;
}

/** Accepts a JSON body `{paths, expand}` or a form body `paths=a&paths=b&expand=true`. */
function parseRequest(body: Buffer, contentType: string | undefined): PathsInfoRequest | undefined {
  const text = body.toString("utf8");
  if (contentType?.includes("json") || text.trimStart().startsWith("{")) {
    try {
      const json = JSON.parse(text) as { paths?: unknown; expand?: unknown };
      const paths = typeof json.paths === "string" ? [json.paths] : json.paths;
      if (!Array.isArray(paths) || !paths.every((p) => typeof p === "string")) return undefined;
      return { paths, expand: truthy(json.expand) };
    } catch {
      return undefined;
    }
  }
  const form = new URLSearchParams(text);
  return { paths: [...form.getAll("paths"), ...form.getAll("paths[]")], expand: truthy(form.get("expand")) };
}

/** `POST /api/models/{repo}/paths-info/{rev}`: entries for the paths that exist, in request order. */
export async function handlePathsInfo(ctx: RouteContext): Promise<void> {
  const body = await readBody(ctx.req);
  const repo = authorizeRepo(ctx.state, ctx.res, ctx.credentials, ctx.repoId, { files: false });
  if (!repo) return;
  const revision = ctx.rest.join("/");
  const commit = repo.resolveRevision(revision);
  if (!commit) {
    sendRevisionNotFound(ctx.res, revision);
    return;
  }
  const request = parseRequest(body, ctx.req.headers["content-type"]);
  if (!request) {
    sendHubError(ctx.res, 400, { message: "Invalid request body: expected {paths: string[], expand?: boolean}" });
    return;
  }
  const seen = new Set<string>();
  const entries: ApiPathEntry[] = [];
  for (const raw of request.paths) {
    const path = raw.replace(/^\/+|\/+$/g, "");
    if (seen.has(path)) continue;
    seen.add(path);
    const entry = entryAt(commit, path, request.expand, repo.xet);
    if (entry) entries.push(entry);
  }
  sendJson(ctx.res, 200, entries, { "X-Repo-Commit": commit.id });
}
