import { authorizeRepo } from "../access.ts";
import { sendEntryNotFound, sendRevisionNotFound } from "../errors.ts";
import { xetHashOf } from "../hashing.ts";
import { contentTypeFor, sendJson, sendText } from "../http-utils.ts";
import { replyWithRequestFault } from "../request-faults.ts";
import { splitRevision } from "../revision.ts";
import { serveContent } from "../serve-content.ts";
import type { RouteContext } from "./context.ts";

function contentDisposition(path: string): string {
  const filename = path.split("/").pop() ?? path;
  return `inline; filename*=UTF-8''${encodeURIComponent(filename)}; filename="${filename.replace(/"/g, "")}";`;
}

/** What a Xet client sends to get the file's Xet info instead of a redirect (huggingface.js switches to Xet on it). */
export const XET_FILEINFO = "application/vnd.xet-fileinfo+json";

/**
 * `GET|HEAD /{org}/{name}/resolve/{rev}/{path}` (and `/raw/`, which serves LFS pointers instead of redirecting).
 * Small files are served here (gzip-compressed with `settings.gzipSmallFiles`); LFS files answer 302 to a signed URL
 * on the CDN origin, or, in a Xet-stored repo, on the bridge origin, with `X-Xet-Hash` and the `Link` header a Xet
 * client follows. In a Xet-stored repo, a request that accepts `application/vnd.xet-fileinfo+json` gets that JSON.
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
    const stripEtag =
      state.faults.take("missingEtag", { where: "resolve", path, repo: ctx.repoId, hasBody: false }) !== undefined;
    const etag = `"${file.lfs.oid}"`;
    const common: Record<string, string> = {
      "X-Repo-Commit": commit.id,
      "X-Linked-Size": String(file.lfs.size),
      ...(stripEtag ? {} : { "X-Linked-Etag": etag, ETag: etag }),
      "Content-Disposition": contentDisposition(path),
      Vary: "Origin, Accept",
    };
    if (repo.xet) {
      const xetHash = xetHashOf(file.lfs.oid);
      const casUrl = `${state.bridgeUrl()}/cas`;
      const refreshUrl = `${state.hubUrl()}/api/models/${ctx.repoId}/xet-read-token/${commit.id}`;
      const reconstructionUrl = `${casUrl}/v1/reconstructions/${xetHash}`;
      const xet = {
        ...common,
        "X-Xet-Hash": xetHash,
        Link: `<${refreshUrl}>; rel="xet-auth", <${reconstructionUrl}>; rel="xet-reconstruction-info"`,
      };
      if ((req.headers.accept ?? "").includes(XET_FILEINFO)) {
        sendJson(
          res,
          200,
          { casUrl, hash: xetHash, refreshUrl, reconstructionUrl, etag: file.lfs.oid, size: file.lfs.size },
          { ...xet, "Content-Type": XET_FILEINFO },
        );
        return;
      }
      const location = `${state.bridgeUrl()}${state.bridge.signedPath(ctx.repoId, file)}`;
      sendText(res, 302, `Found. Redirecting to ${location}`, { ...xet, Location: location });
      return;
    }
    const location = `${state.cdnUrl()}${state.cdn.signedPath(ctx.repoId, file)}`;
    sendText(res, 302, `Found. Redirecting to ${location}`, { ...common, Location: location });
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
    gzip: !file.lfs && state.settings.gzipSmallFiles,
  });
}
