import type { HostRef } from "../errors.ts";

/**
 * Names the host a request went to, for messages: the Hub origin (HF_ENDPOINT), the Xet bridge that serves the files
 * of Xet-stored repos (`cas-bridge.xethub.hf.co`), or another download host (the LFS CDN). Only the host and port:
 * never a path or a query (signed URLs carry credentials in theirs).
 */
export function hostOf(url: string | URL, hubOrigin: string): HostRef {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { subject: "a download host", isHub: false };
  }
  if (parsed.origin === hubOrigin) return { subject: `the Hub at ${parsed.host}`, isHub: true };
  if (/(^|\.)xethub\./i.test(parsed.hostname) || parsed.pathname.startsWith("/xet-bridge")) {
    return { subject: `the Xet bridge ${parsed.host}`, isHub: false };
  }
  return { subject: `the download host ${parsed.host}`, isHub: false };
}
