import type { IncomingMessage, ServerResponse } from "node:http";
import { sendText } from "./http-utils.ts";
import { replyWithRequestFault } from "./request-faults.ts";
import { serveContent } from "./serve-content.ts";
import type { HubState } from "./state.ts";

function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  sendText(res, status, xml, { "Content-Type": "application/xml" });
}

/**
 * The CDN origin: serves LFS objects behind the signed URLs the resolve route redirects to.
 * It ignores `Authorization` entirely (no token is needed). Faults that may fire here:
 * `serverError`, `missingEtag`, the body faults, and `rateLimit` when `where` includes "cdn".
 */
export async function handleCdnRequest(state: HubState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    s3Error(res, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    return;
  }
  const url = new URL(req.url ?? "/", "http://cdn.invalid");
  const object = state.cdn.lookup(url.pathname, url.searchParams);
  if (object === "not-found") {
    s3Error(res, 404, "NoSuchKey", "The specified key does not exist.");
    return;
  }
  if (object === "forbidden" || object === "expired") {
    s3Error(res, 403, "AccessDenied", object === "expired" ? "Request has expired" : "Access denied");
    return;
  }
  if (replyWithRequestFault(state, res, { where: "cdn", path: object.path, repo: object.repoId })) return;
  const disposition = url.searchParams.get("response-content-disposition");
  await serveContent(state, req, res, {
    content: object.content,
    etag: object.sha256,
    contentType: url.searchParams.get("response-content-type") ?? "application/octet-stream",
    where: "cdn",
    repo: object.repoId,
    path: object.path,
    headers: {
      ...(disposition ? { "Content-Disposition": disposition } : {}),
      ...(state.options.cdnCacheHeader ? { "X-Cache": "Miss from cloudfront" } : {}),
    },
  });
}
