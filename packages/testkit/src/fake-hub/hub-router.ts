import type { IncomingMessage, ServerResponse } from "node:http";
import { sendHubError, sendRouteNotFound } from "./errors.ts";
import { decodeSegments } from "./http-utils.ts";
import { replyWithRequestFault } from "./request-faults.ts";
import type { RouteContext } from "./routes/context.ts";
import { handleModelInfo } from "./routes/model-info.ts";
import { handlePathsInfo } from "./routes/paths-info.ts";
import { handleRefs } from "./routes/refs.ts";
import { handleResolve } from "./routes/resolve.ts";
import { handleTree } from "./routes/tree.ts";
import { handleWhoami } from "./routes/whoami.ts";
import type { HubState } from "./state.ts";

/**
 * Routes of the Hub origin:
 * - `GET /api/whoami-v2`
 * - `GET /api/models/{org}/{name}` and `GET /api/models/{org}/{name}/revision/{rev}`
 * - `GET /api/models/{org}/{name}/tree/{rev}[/{dir}]`
 * - `POST /api/models/{org}/{name}/paths-info/{rev}`
 * - `GET /api/models/{org}/{name}/refs`
 * - `GET|HEAD /{org}/{name}/resolve/{rev}/{path}` and `/{org}/{name}/raw/{rev}/{path}`
 * Anything else: 404. `rateLimit` / `serverError` faults with `where: "api"` fire on the `/api` routes.
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
      if (replyWithRequestFault(state, res, { where: "api" })) return;
      handleWhoami(res, credentials);
      return;
    }
    if (segments[1] === "models" && segments.length >= 4) {
      const [, , org = "", name = "", action, ...rest] = segments;
      const ctx: RouteContext = { state, req, res, url, credentials, repoId: `${org}/${name}`, rest };
      const route = modelRoute(ctx, method, action);
      if (route) {
        if (replyWithRequestFault(state, res, { where: "api", repo: ctx.repoId })) return;
        await route();
        return;
      }
    }
    sendRouteNotFound(res);
    return;
  }

  const [org = "", name = "", action, ...rest] = segments;
  if ((action === "resolve" || action === "raw") && rest.length >= 2 && isRead) {
    await handleResolve({ state, req, res, url, credentials, repoId: `${org}/${name}`, rest }, action === "raw");
    return;
  }
  sendRouteNotFound(res);
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
  return undefined;
}
