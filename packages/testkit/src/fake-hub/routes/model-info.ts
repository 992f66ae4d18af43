import { sendRevisionNotFound } from "../errors.ts";
import { sendJson } from "../http-utils.ts";
import type { FakeRepo, StoredCommit } from "../repo-store.ts";
import { authorizeRepo } from "../access.ts";
import type { RouteContext } from "./context.ts";

/** Fields always present when the Hub answers an `expand` request. */
const ALWAYS = ["_id", "id"];

export function modelInfoBody(repo: FakeRepo, commit: StoredCommit): Record<string, unknown> {
  const [author] = repo.id.split("/");
  let usedStorage = 0;
  for (const file of commit.files.values()) usedStorage += file.size;
  return {
    _id: repo.objectId,
    id: repo.id,
    modelId: repo.id,
    author,
    sha: commit.id,
    lastModified: commit.date.toISOString(),
    createdAt: repo.createdAt.toISOString(),
    private: repo.private,
    gated: repo.gated,
    disabled: false,
    downloads: 0,
    likes: 0,
    tags: [...repo.modelTags],
    ...(repo.pipelineTag ? { pipeline_tag: repo.pipelineTag } : {}),
    ...(repo.license || repo.baseModel
      ? {
          cardData: {
            ...(repo.license ? { license: repo.license } : {}),
            ...(repo.baseModel ? { base_model: repo.baseModel } : {}),
          },
        }
      : {}),
    siblings: [...commit.files.keys()].sort().map((rfilename) => ({ rfilename })),
    spaces: [],
    usedStorage,
  };
}

/**
 * `GET /api/models/{org}/{name}` (main) and `GET /api/models/{org}/{name}/revision/{rev}`.
 * `expand` / `expand[]` query params are ignored unless the hub was started with `honourExpand`.
 */
export function handleModelInfo(ctx: RouteContext, revisionGiven: boolean): void {
  const repo = authorizeRepo(ctx.state, ctx.res, ctx.credentials, ctx.repoId, { files: false });
  if (!repo) return;
  const revision = revisionGiven ? ctx.rest.join("/") : "main";
  const commit = repo.resolveRevision(revision);
  if (!commit) {
    sendRevisionNotFound(ctx.res, revision);
    return;
  }
  const body = modelInfoBody(repo, commit);
  const expand = [...ctx.url.searchParams.getAll("expand"), ...ctx.url.searchParams.getAll("expand[]")];
  if (ctx.state.options.honourExpand && expand.length > 0) {
    const picked: Record<string, unknown> = {};
    for (const key of [...ALWAYS, ...expand]) {
      if (key in body) picked[key] = body[key];
    }
    sendJson(ctx.res, 200, picked);
    return;
  }
  sendJson(ctx.res, 200, body);
}
