import { ApiError, namesNoModel } from "@slm/config";
import type { Serving } from "../serving.ts";

/**
 * Which served model answers: with LORA_ADAPTERS a request's `model` names the base or an adapter (no `model`
 * means the base, as does a URL: the Hugging Face client's endpoint, sent when it is given no model); an unknown name
 * is a 404 `model_not_found`, as OpenAI answers. With one model, `model` is not checked (clients commonly send any
 * name).
 */
export function selectModel(serving: Serving, model: string | undefined): Serving {
  if (!serving.variants || model === undefined || namesNoModel(model)) return serving;
  const chosen = serving.variants.get(model);
  if (!chosen) {
    throw new ApiError(
      404,
      "invalid_request_error",
      "model_not_found",
      `The model '${model}' does not exist. GET /v1/models lists the served models.`,
      "model",
    );
  }
  return chosen;
}
