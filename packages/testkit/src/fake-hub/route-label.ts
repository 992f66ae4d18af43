import { decodeSegments } from "./http-utils.ts";
import type { RouteLabel } from "./types.ts";

/** The Hub API routes (what counts against the Hub's "api" quota); the rest are file transfers. */
export const API_ROUTES: ReadonlySet<RouteLabel> = new Set([
  "whoami",
  "model-info",
  "revision",
  "tree",
  "paths-info",
  "refs",
  "xet-read-token",
]);

/** Which route a request is for, from its origin, method and raw pathname (for the request log and per-route counts). */
export function routeLabel(origin: "hub" | "cdn" | "bridge", method: string, pathname: string): RouteLabel {
  if (origin !== "hub") return origin;
  const segments = decodeSegments(pathname) ?? [];
  if (segments[0] === "api") {
    if (segments[1] === "whoami-v2") return "whoami";
    if (segments[1] !== "models" || segments.length < 4) return "other";
    const action = segments[4];
    if (action === undefined) return "model-info";
    if (action === "revision") return "revision";
    if (action === "tree") return "tree";
    if (action === "paths-info" && method === "POST") return "paths-info";
    if (action === "refs") return "refs";
    if (action === "xet-read-token") return "xet-read-token";
    return "other";
  }
  const action = segments[2];
  if (action === "resolve") return "resolve";
  if (action === "raw") return "raw";
  return "other";
}
