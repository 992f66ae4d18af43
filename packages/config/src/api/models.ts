export interface Model {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

export interface ModelList {
  object: "list";
  data: Model[];
}

/**
 * Whether a request's `model` names no model: absent, empty, or a URL. The Hugging Face client sends its endpoint URL
 * as the model when it is given none (as TGI and llama-server ignore it); a served model's name is never a URL. A
 * request that names no model gets the default one (the one served, or the first the key may use).
 */
export function namesNoModel(model: unknown): boolean {
  return (
    model === undefined || model === null || model === "" || (typeof model === "string" && /^https?:\/\//i.test(model))
  );
}
