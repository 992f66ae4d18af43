import type { Handler } from "hono";
import { allowsModel } from "../keys/key-policy.ts";
import type { GatewayEnv } from "../types.ts";
import type { ModelCatalog } from "./model-catalog.ts";

/** GET /v1/models: the served models this key may use, from the catalog (no round trip while it is fresh). */
export function modelsRoute(catalog: ModelCatalog): Handler<GatewayEnv> {
  return async function models(c) {
    const policy = c.get("principal").policy;
    const served = catalog.fresh() ?? (await catalog.list());
    return c.json({ object: "list", data: served.filter((m) => allowsModel(policy, m.id)) });
  };
}
