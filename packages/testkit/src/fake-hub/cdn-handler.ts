import type { IncomingMessage, ServerResponse } from "node:http";
import type { CdnStore } from "./cdn-store.ts";
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
 * `serverError`, `cdnError`, `missingEtag`, the body faults, and `rateLimit` when `where` includes "cdn".
 * Its errors carry none of the Hub's headers.
 */
export function handleCdnRequest(state: HubState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return serveStored(state, req, res, state.cdn);
}

/**
 * The Xet bridge origin: serves the files of Xet-stored repos whole (206 to a ranged GET, 400 to an unranged GET of
 * a file over `settings.unrangedLimitBytes`), behind the signed URLs the resolve route of a Xet repo redirects to.
 * The same faults as the CDN, with `where: "bridge"`.
 */
export function handleBridgeRequest(state: HubState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return serveStored(state, req, res, state.bridge);
}

async function serveStored(state: HubState, req: IncomingMessage, res: ServerResponse, store: CdnStore): Promise<void> {
  const where = store.kind;
  if (req.method !== "GET" && req.method !== "HEAD") {
    s3Error(res, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    return;
  }
  const url = new URL(req.url ?? "/", "http://cdn.invalid");
  const object = store.lookup(url.pathname, url.searchParams);
  if (object === "not-found") {
    s3Error(res, 404, "NoSuchKey", "The specified key does not exist.");
    return;
  }
  if (object === "forbidden" || object === "expired") {
    s3Error(res, 403, "AccessDenied", object === "expired" ? "Request has expired" : "Access denied");
    return;
  }
  if (replyWithRequestFault(state, res, { where, path: object.path, repo: object.repoId })) return;
  const disposition = url.searchParams.get("response-content-disposition");
  await serveContent(state, req, res, {
    content: object.content,
    etag: object.sha256,
    contentType: url.searchParams.get("response-content-type") ?? "application/octet-stream",
    where,
    repo: object.repoId,
    path: object.path,
    headers: {
      ...(disposition ? { "Content-Disposition": disposition } : {}),
      ...(state.options.cdnCacheHeader && where === "cdn" ? { "X-Cache": "Miss from cloudfront" } : {}),
    },
  });
}
