import { authorizeRepo } from "../access.ts";
import { sendEntryNotFound, sendRevisionNotFound } from "../errors.ts";
import { contentTypeFor, sendText } from "../http-utils.ts";
import { replyWithRequestFault } from "../request-faults.ts";
import { splitRevision } from "../revision.ts";
import { serveContent } from "../serve-content.ts";
import type { RouteContext } from "./context.ts";

function contentDisposition(path: string): string {
  const filename = path.split("/").pop() ?? path;
  return `inline; filename*=UTF-8''${encodeURIComponent(filename)}; filename="${filename.replace(/"/g, "")}";`;
}

/**
 * `GET|HEAD /{org}/{name}/resolve/{rev}/{path}` (and `/raw/`, which serves LFS pointers instead of redirecting).
 * Small files are served here; LFS files answer 302 to a signed URL on the CDN origin.
 */
export async function handleResolve(ctx: RouteContext, raw: boolean): Promise<void> {
  const { state, res, req } = ctx;
  const split = splitRevision(state.repos.get(ctx.repoId), ctx.rest, 1);
  const path = split.rest.join("/");
  if (replyWithRequestFault(state, res, { where: "resolve", path, repo: ctx.repoId })) return;
  const repo = authorizeRepo(state, res, ctx.credentials, ctx.repoId, { files: true });
  if (!repo) return;
  const commit = split.commit;
  if (!commit) {
    sendRevisionNotFound(res, split.revision);
    return;
  }
  const file = commit.files.get(path);
  if (!file) {
    sendEntryNotFound(res, commit.id);
    return;
  }
  if (file.lfs && !raw) {
    const location = `${state.cdnUrl()}${state.cdn.signedPath(ctx.repoId, file)}`;
    const stripEtag =
      state.faults.take("missingEtag", { where: "resolve", path, repo: ctx.repoId, hasBody: false }) !== undefined;
    const etag = `"${file.lfs.oid}"`;
    sendText(res, 302, `Found. Redirecting to ${location}`, {
      Location: location,
      "X-Repo-Commit": commit.id,
      "X-Linked-Size": String(file.lfs.size),
      ...(stripEtag ? {} : { "X-Linked-Etag": etag, ETag: etag }),
      "Content-Disposition": contentDisposition(path),
      Vary: "Origin, Accept",
    });
    return;
  }
  const content = file.lfs ? file.lfs.pointer : file.content;
  await serveContent(state, req, res, {
    content,
    etag: file.oid,
    contentType: file.lfs ? "text/plain; charset=utf-8" : contentTypeFor(path),
    where: "resolve",
    repo: ctx.repoId,
    path,
    headers: {
      "X-Repo-Commit": commit.id,
      "Content-Disposition": contentDisposition(path),
      Vary: "Origin, Accept",
    },
  });
}
