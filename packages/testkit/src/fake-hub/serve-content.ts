import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { sendStorageError } from "./errors.ts";
import type { FaultContext } from "./faults.ts";
import { parseRange } from "./http-utils.ts";
import { writeBody, type BodyPlan } from "./send-body.ts";
import type { HubState } from "./state.ts";

export interface ContentReply {
  content: Buffer;
  /** Unquoted entity tag. */
  etag: string;
  contentType: string;
  /** Where the reply comes from, for fault matching and byte counting. */
  where: "resolve" | "cdn" | "bridge";
  repo: string;
  path: string;
  headers?: Record<string, string | number>;
  /**
   * Sent gzip-compressed, the way the real Hub may send a small file: `Content-Encoding: gzip`, chunked, a weak ETag,
   * `Range` ignored.
   */
  gzip?: boolean;
}

const PROBE = /^\s*bytes\s*=\s*0\s*-\s*0\s*$/i;

/**
 * `If-Range` (RFC 9110 13.1.5): the range applies only when the validator is a strong entity tag equal to the
 * current one; otherwise (another tag, a weak tag, no current tag, or a date: no Last-Modified is sent) the whole
 * body is sent.
 */
function rangeApplies(ifRange: string | string[] | undefined, etag: string | undefined): boolean {
  if (ifRange === undefined) return true;
  return etag !== undefined && typeof ifRange === "string" && ifRange.trim() === `"${etag}"`;
}

/** The entity tag of this reply: CDN and bridge replies follow `settings.cdnEtag`; Hub replies are stable. */
function currentEtag(state: HubState, reply: ContentReply): string | undefined {
  if (reply.where === "resolve") return reply.etag;
  switch (state.settings.cdnEtag) {
    case "none":
      return undefined;
    case "per-request":
      return randomBytes(16).toString("hex");
    default:
      return reply.etag;
  }
}

/**
 * Serves file content with `Range` support (200, 206, or 416), `If-Range`, and the body faults
 * (`missingEtag`, `corruptBody`, `truncateBody`, `resetMidBody`, `slowBody`, `stallBody`), streaming with
 * backpressure. The bridge refuses an unranged GET of a file over `settings.unrangedLimitBytes` (400).
 */
export async function serveContent(
  state: HubState,
  req: IncomingMessage,
  res: ServerResponse,
  reply: ContentReply,
): Promise<void> {
  const isHead = req.method === "HEAD";
  if (
    reply.where === "bridge" &&
    !isHead &&
    req.headers.range === undefined &&
    reply.content.byteLength > state.settings.unrangedLimitBytes
  ) {
    sendStorageError(res, 400);
    return;
  }
  const etag = currentEtag(state, reply);
  const content = reply.gzip ? gzipSync(reply.content) : reply.content;
  const size = content.byteLength;
  const rangeHeader = !reply.gzip && rangeApplies(req.headers["if-range"], etag) ? req.headers.range : undefined;
  const range = parseRange(rangeHeader, size);
  const ctx: FaultContext = {
    where: reply.where,
    path: reply.path,
    repo: reply.repo,
    hasBody: !isHead,
    isProbe: rangeHeader !== undefined && PROBE.test(rangeHeader),
  };
  const stripEtag = state.faults.take("missingEtag", ctx) !== undefined;
  const common: Record<string, string | number> = {
    ...(reply.gzip ? { "Content-Encoding": "gzip", Vary: "Accept-Encoding" } : { "Accept-Ranges": "bytes" }),
    "Content-Type": reply.contentType,
    ...(stripEtag || etag === undefined ? {} : { ETag: reply.gzip ? `W/"${etag}"` : `"${etag}"` }),
    ...reply.headers,
  };
  if (range === "unsatisfiable") {
    res.writeHead(416, { ...common, "Content-Range": `bytes */${size}`, "Content-Length": 0 });
    res.end();
    return;
  }
  const start = range ? range.start : 0;
  const end = range ? range.end + 1 : size;
  const body = content.subarray(start, end);
  // A gzip reply is chunked: no Content-Length, as the real Hub sends it.
  const headers: Record<string, string | number> = reply.gzip
    ? common
    : { ...common, "Content-Length": body.byteLength };
  if (range) {
    headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
  }
  res.writeHead(range ? 206 : 200, headers);
  if (isHead) {
    res.end();
    return;
  }
  const half = Math.floor(body.byteLength / 2);
  const plan: BodyPlan = {};
  const corrupt = state.faults.take("corruptBody", ctx);
  if (corrupt) plan.corruptAt = Math.min(corrupt.offset ?? half, Math.max(0, body.byteLength - 1));
  const truncate = state.faults.take("truncateBody", ctx);
  if (truncate) plan.truncateAfter = truncate.sendBytes ?? half;
  const reset = state.faults.take("resetMidBody", ctx);
  if (reset) plan.resetAfter = reset.afterBytes ?? half;
  const stalled = state.faults.take("stallBody", ctx);
  if (stalled) {
    plan.stallAfter = Math.min(stalled.afterBytes ?? half, body.byteLength);
    if (stalled.stallMs !== undefined) plan.stallMs = stalled.stallMs;
  }
  const slow = state.faults.take("slowBody", ctx);
  if (slow) {
    res.flushHeaders();
    await new Promise((resolve) => setTimeout(resolve, slow.delayMs ?? 500));
  }
  await writeBody(res, body, plan, (n) => {
    if (reply.where === "cdn") state.counters.cdnBytes += n;
    else if (reply.where === "bridge") state.counters.bridgeBytes += n;
    else state.counters.hubBytes += n;
  });
}
