import { ApiError, type Model } from "@slm/config";
import type { Handler } from "hono";
import { allowsModel, type KeyPolicy } from "../keys/key-policy.ts";
import type { GatewayEnv } from "../types.ts";
import type { ModelCatalog } from "./model-catalog.ts";

/** OpenAI's answer for a model not served, or one the key may not use (the two are not told apart). */
export const modelNotFound = () =>
  new ApiError(
    404,
    "invalid_request_error",
    "model_not_found",
    "The model does not exist or you do not have access to it.",
    "model",
  );

/** The served model named `id`, when the key may use it. */
export function findModel(id: string, served: readonly Model[], policy: KeyPolicy): Model | undefined {
  const model = served.find((m) => m.id === id);
  return model !== undefined && allowsModel(policy, id) ? model : undefined;
}

/** GET /v1/models: the served models this key may use, from the catalog (no round trip while it is fresh). */
export function modelsRoute(catalog: ModelCatalog): Handler<GatewayEnv> {
  return async function models(c) {
    const policy = c.get("principal").policy;
    const served = catalog.fresh() ?? (await catalog.list());
    return c.json({ object: "list", data: served.filter((m) => allowsModel(policy, m.id)) });
  };
}

/**
 * GET /v1/models/{id} (mounted as `/v1/models/:id{.+}`: an id may hold "/", URL-encoded or not): OpenAI's model object
 * for a served model the key may use, else 404 `model_not_found`.
 */
export function modelRoute(catalog: ModelCatalog): Handler<GatewayEnv> {
  return async function model(c) {
    const served = catalog.fresh() ?? (await catalog.list());
    const found = findModel(c.req.param("id") ?? "", served, c.get("principal").policy);
    if (found === undefined) throw modelNotFound();
    return c.json(found);
  };
}
