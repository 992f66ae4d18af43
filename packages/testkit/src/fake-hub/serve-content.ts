import type { IncomingMessage, ServerResponse } from "node:http";
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
  where: "resolve" | "cdn";
  repo: string;
  path: string;
  headers?: Record<string, string | number>;
}

const PROBE = /^\s*bytes\s*=\s*0\s*-\s*0\s*$/i;

/**
 * `If-Range` (RFC 9110 13.1.5): the range applies only when the validator is a strong entity tag equal to the
 * current one; otherwise (another tag, a weak tag, or a date: no Last-Modified is sent) the whole body is sent.
 */
function rangeApplies(ifRange: string | string[] | undefined, etag: string): boolean {
  if (ifRange === undefined) return true;
  return typeof ifRange === "string" && ifRange.trim() === `"${etag}"`;
}

/**
 * Serves file content with `Range` support (200, 206, or 416), `If-Range`, and the body faults
 * (`missingEtag`, `corruptBody`, `truncateBody`, `resetMidBody`, `slowBody`), streaming with backpressure.
 */
export async function serveContent(
  state: HubState,
  req: IncomingMessage,
  res: ServerResponse,
  reply: ContentReply,
): Promise<void> {
  const isHead = req.method === "HEAD";
  const size = reply.content.byteLength;
  const rangeHeader = rangeApplies(req.headers["if-range"], reply.etag) ? req.headers.range : undefined;
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
    "Accept-Ranges": "bytes",
    "Content-Type": reply.contentType,
    ...(stripEtag ? {} : { ETag: `"${reply.etag}"` }),
    ...reply.headers,
  };
  if (range === "unsatisfiable") {
    res.writeHead(416, { ...common, "Content-Range": `bytes */${size}`, "Content-Length": 0 });
    res.end();
    return;
  }
  const start = range ? range.start : 0;
  const end = range ? range.end + 1 : size;
  const body = reply.content.subarray(start, end);
  const headers: Record<string, string | number> = { ...common, "Content-Length": body.byteLength };
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
  const slow = state.faults.take("slowBody", ctx);
  if (slow) {
    res.flushHeaders();
    await new Promise((resolve) => setTimeout(resolve, slow.delayMs ?? 500));
  }
  await writeBody(res, body, plan, (n) => {
    if (reply.where === "cdn") state.counters.cdnBytes += n;
    else state.counters.hubBytes += n;
  });
}
