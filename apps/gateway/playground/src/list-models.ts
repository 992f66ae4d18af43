import type { ModelList } from "@slm/config";
import { readGatewayError } from "./gateway-error.ts";

export interface ListModelsOptions {
  apiKey: string;
  /** Origin of the gateway; "" (the default) means this page's own origin. */
  baseUrl?: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/** GET /v1/models: the public names of the served models. Throws a GatewayError on an error answer. */
export async function listModels(options: ListModelsOptions): Promise<string[]> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const response = await doFetch(`${options.baseUrl ?? ""}/v1/models`, {
    headers: { authorization: `Bearer ${options.apiKey}` },
    signal: options.signal ?? null,
  });
  if (!response.ok) throw await readGatewayError(response);
  const list = (await response.json()) as ModelList;
  return list.data.map((model) => model.id);
}
