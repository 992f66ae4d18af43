import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { sendJson } from "./http-utils.ts";

/**
 * Sends an error the way the Hub does: `X-Error-Code` (when there is one), `X-Error-Message`
 * and a JSON `{error}` body.
 */
export function sendHubError(
  res: ServerResponse,
  status: number,
  error: { code?: string; message: string; headers?: Record<string, string | number> },
): void {
  sendJson(
    res,
    status,
    { error: error.message },
    {
      ...(error.code ? { "X-Error-Code": error.code } : {}),
      "X-Error-Message": error.message,
      "X-Request-Id": `Root=1-${randomBytes(12).toString("hex")}`,
      ...error.headers,
    },
  );
}

/** 401 without a token (or missing repo), 404 with a valid token. */
export function sendRepoNotFound(res: ServerResponse, status: 401 | 404): void {
  sendHubError(res, status, { code: "RepoNotFound", message: "Repository not found" });
}

export function sendGatedRepo(res: ServerResponse, repoId: string, status: 401 | 403, hubUrl: string): void {
  const message =
    status === 401
      ? `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`
      : `Access to model ${repoId} is restricted and you are not in the authorized list. Visit ${hubUrl}/${repoId} to ask for access.`;
  sendHubError(res, status, { code: "GatedRepo", message });
}

export function sendRevisionNotFound(res: ServerResponse, revision: string): void {
  sendHubError(res, 404, { code: "RevisionNotFound", message: `Invalid rev id: ${revision}` });
}

export function sendEntryNotFound(res: ServerResponse, commitSha: string): void {
  sendHubError(res, 404, {
    code: "EntryNotFound",
    message: "Entry not found",
    headers: { "X-Repo-Commit": commitSha },
  });
}

export function sendInvalidCredentials(res: ServerResponse): void {
  sendHubError(res, 401, { message: "Invalid credentials in Authorization header" });
}

/**
 * A 429 as the real Hub sends it: the IETF `RateLimit` header (`"<bucket>";r=<remaining>;t=<seconds until reset>`)
 * and `RateLimit-Policy` (500 API requests per 5 minutes for an anonymous IP), and no `Retry-After` unless asked.
 */
export function sendRateLimited(
  res: ServerResponse,
  retryAfterSeconds: number,
  bucket: "api" | "resolvers",
  retryAfterHeader = false,
): void {
  sendHubError(res, 429, {
    message: `You have exceeded our hourly quotas for action: ${bucket}. We invite you to retry later or log in with your HF account.`,
    headers: {
      ...(retryAfterHeader ? { "Retry-After": String(retryAfterSeconds) } : {}),
      RateLimit: `"${bucket}";r=0;t=${retryAfterSeconds}`,
      "RateLimit-Policy": `"fixed window";"${bucket}";q=${bucket === "api" ? 500 : 3000};w=300`,
    },
  });
}

/** A repo the Hub disabled: 403 with only `X-Error-Message` (no `X-Error-Code`). */
export function sendRepoDisabled(res: ServerResponse): void {
  sendHubError(res, 403, { message: "Access to this resource is disabled." });
}

/**
 * An error from the CDN or the Xet bridge: an S3/CloudFront-style XML body and none of the Hub's headers (no
 * `X-Error-Code`, no `X-Error-Message`, no `X-Request-Id`).
 */
export function sendStorageError(res: ServerResponse, status: number, retryAfterSeconds?: number): void {
  const [code, message] =
    status === 403
      ? ["AccessDenied", "Access Denied"]
      : status === 404
        ? ["NoSuchKey", "The specified key does not exist."]
        : status === 400
          ? ["InvalidRequest", "Bad Request"]
          : status === 429
            ? ["SlowDown", "Please reduce your request rate."]
            : status === 503
              ? ["ServiceUnavailable", "Service Unavailable"]
              : ["InternalError", "We encountered an internal error. Please try again."];
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  const payload = Buffer.from(xml, "utf8");
  res.writeHead(status, {
    "Content-Type": "application/xml",
    "Content-Length": payload.byteLength,
    ...(retryAfterSeconds !== undefined ? { "Retry-After": String(retryAfterSeconds) } : {}),
  });
  res.end(payload);
}

export function sendServerError(res: ServerResponse, status: number, retryAfterSeconds?: number): void {
  sendHubError(res, status, {
    message:
      status === 503 ? "Service Unavailable" : "Internal Error - We're working hard to fix this as soon as possible!",
    headers: retryAfterSeconds !== undefined ? { "Retry-After": String(retryAfterSeconds) } : {},
  });
}

export function sendRouteNotFound(res: ServerResponse): void {
  sendJson(res, 404, { error: "Not Found" });
}
