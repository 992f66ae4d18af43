/**
 * Whether an adapter's declared base (`base_model_name_or_path`) names the configured BASE_MODEL. Adapters are
 * trained on the safetensors repo while llama.cpp serves a GGUF conversion, usually published as `<name>-GGUF`
 * by someone else; so the ids match, or the repo names match once a `-GGUF` suffix is dropped (case-insensitive).
 * A local training path (`/data/llama`) compares by its last segment.
 */
export function matchesBase(declared: string, baseModel: string): boolean {
  const norm = (id: string) => id.trim().replace(/\/+$/, "").toLowerCase();
  const name = (id: string) => (norm(id).split("/").pop() ?? "").replace(/[-_.]gguf$/, "");
  return norm(declared) === norm(baseModel) || (name(declared) !== "" && name(declared) === name(baseModel));
}
