import type { IncomingMessage, ServerResponse } from "node:http";
import { sendHubError, sendRouteNotFound } from "./errors.ts";
import { decodeSegments, sendText } from "./http-utils.ts";
import { replyWithRequestFault } from "./request-faults.ts";
import type { RouteContext } from "./routes/context.ts";
import { handleModelInfo } from "./routes/model-info.ts";
import { handlePathsInfo } from "./routes/paths-info.ts";
import { handleRefs } from "./routes/refs.ts";
import { handleResolve } from "./routes/resolve.ts";
import { handleTree } from "./routes/tree.ts";
import { handleWhoami } from "./routes/whoami.ts";
import { handleXetReadToken } from "./routes/xet-read-token.ts";
import { routeLabel } from "./route-label.ts";
import type { HubState } from "./state.ts";
import type { ApiRoute } from "./types.ts";

/**
 * Routes of the Hub origin:
 * - `GET /api/whoami-v2`
 * - `GET /api/models/{org}/{name}` and `GET /api/models/{org}/{name}/revision/{rev}`
 * - `GET /api/models/{org}/{name}/tree/{rev}[/{dir}]`
 * - `POST /api/models/{org}/{name}/paths-info/{rev}`
 * - `GET /api/models/{org}/{name}/refs`
 * - `GET|HEAD /{org}/{name}/resolve/{rev}/{path}` and `/{org}/{name}/raw/{rev}/{path}`
 * - `GET /api/models/{org}/{name}/xet-read-token/{rev}` (what a Xet client asks for; ours never does)
 * Anything else: 404. `rateLimit` / `serverError` faults with `where: "api"` fire on the `/api` routes (one route
 * only with `route`). A request naming a renamed repo gets a 307 with a relative `Location` to its new name.
 */
export async function handleHubRequest(state: HubState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://hub.invalid");
  const segments = decodeSegments(url.pathname);
  if (!segments) {
    sendHubError(res, 400, { message: "Malformed URL" });
    return;
  }
  const method = req.method ?? "GET";
  const credentials = state.tokens.fromHeader(req.headers.authorization);
  const isRead = method === "GET" || method === "HEAD";

  if (segments[0] === "api") {
    if (segments[1] === "whoami-v2" && segments.length === 2 && isRead) {
      if (replyWithRequestFault(state, res, { where: "api", route: "whoami" })) return;
      handleWhoami(res, credentials);
      return;
    }
    if (segments[1] === "models" && segments.length >= 4) {
      const [, , org = "", name = "", action, ...rest] = segments;
      const ctx: RouteContext = { state, req, res, url, credentials, repoId: `${org}/${name}`, rest };
      const route = modelRoute(ctx, method, action);
      if (route) {
        if (redirectRenamed(state, req, res, ctx.repoId, 3)) return;
        const label = routeLabel("hub", method, url.pathname) as ApiRoute;
        if (replyWithRequestFault(state, res, { where: "api", repo: ctx.repoId, route: label })) return;
        await route();
        return;
      }
    }
    sendRouteNotFound(res);
    return;
  }

  const [org = "", name = "", action, ...rest] = segments;
  if ((action === "resolve" || action === "raw") && rest.length >= 2 && isRead) {
    if (redirectRenamed(state, req, res, `${org}/${name}`, 1)) return;
    await handleResolve({ state, req, res, url, credentials, repoId: `${org}/${name}`, rest }, action === "raw");
    return;
  }
  sendRouteNotFound(res);
}

/**
 * A request naming a renamed repo: 307 to the same path under the new name, with a relative `Location`, as the
 * real Hub answers (the method and body are to be kept). `at` is the index of the org segment in the raw path.
 */
function redirectRenamed(
  state: HubState,
  req: IncomingMessage,
  res: ServerResponse,
  repoId: string,
  at: number,
): boolean {
  const to = state.renamed.get(repoId);
  if (to === undefined || state.repos.has(repoId)) return false;
  const raw = req.url ?? "/";
  const q = raw.indexOf("?");
  const parts = (q === -1 ? raw : raw.slice(0, q)).split("/");
  parts.splice(at, 2, ...to.split("/"));
  const location = `${parts.join("/")}${q === -1 ? "" : raw.slice(q)}`;
  sendText(res, 307, `Temporary Redirect. Redirecting to ${location}`, { Location: location });
  return true;
}

/** The handler of an `/api/models/{org}/{name}[/{action}/...]` request, if the route exists. */
function modelRoute(
  ctx: RouteContext,
  method: string,
  action: string | undefined,
): (() => void | Promise<void>) | undefined {
  const isRead = method === "GET" || method === "HEAD";
  const hasRest = ctx.rest.length > 0;
  if (action === undefined && isRead) return () => handleModelInfo(ctx, false);
  if (action === "revision" && hasRest && isRead) return () => handleModelInfo(ctx, true);
  if (action === "tree" && hasRest && isRead) return () => handleTree(ctx);
  if (action === "paths-info" && hasRest && method === "POST") return () => handlePathsInfo(ctx);
  if (action === "refs" && !hasRest && isRead) return () => handleRefs(ctx);
  if (action === "xet-read-token" && hasRest && isRead) return () => handleXetReadToken(ctx);
  return undefined;
}
