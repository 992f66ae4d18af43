import { readFile } from "node:fs/promises";
import type { LoraSpec } from "@slm/config";
import { parseAdapterConfig } from "../formats/index.ts";
import { BaseModelMismatchError, LicenseMismatchError } from "./errors.ts";

/** What the supply chain knows about one adapter repo, from its verified files and its Hub card. */
export interface AdapterFacts {
  repo: string;
  /** The Hub's licence (card or `license:` tag). */
  license: string | undefined;
  /** The card's `base_model`. */
  cardBaseModel: string | undefined;
  /** A PEFT adapter's verified adapter_config.json (undefined for a GGUF adapter). */
  configPath: string | undefined;
}

/**
 * Whether each adapter may be served on the base, decided before the base is converted (or even downloaded, for a
 * transformers base): the adapter's declared base (`base_model_name_or_path`, else the card's `base_model`) must
 * name BASE_MODEL (matchesBase; LORA_BASE_MATCH=off skips it), and its licence must equal the base's, or both be
 * listed in MODEL_LICENSES_ALLOWED (LORA_LICENSE_MATCH=off skips it). Two undeclared licences are not a mismatch.
 */
export async function checkAdapterCompatibility(options: {
  lora: LoraSpec;
  adapters: readonly AdapterFacts[];
  base: { repo: string; license: string | undefined };
  /** MODEL_LICENSES_ALLOWED, lower-cased. */
  licensesAllowed: readonly string[];
}): Promise<void> {
  const { lora, base } = options;
  const norm = (license: string | undefined) => license?.trim().toLowerCase();
  for (const adapter of options.adapters) {
    if (lora.baseMatch) {
      const config = adapter.configPath ? parseAdapterConfig(await readFile(adapter.configPath)) : undefined;
      const declared = config?.baseModelNameOrPath ?? adapter.cardBaseModel;
      if (declared !== undefined && !matchesBase(declared, lora.baseModel))
        throw new BaseModelMismatchError(declared, lora.baseModel);
    }
    if (lora.licenseMatch) {
      const [a, b] = [norm(adapter.license), norm(base.license)];
      const bothAllowed =
        a !== undefined &&
        b !== undefined &&
        options.licensesAllowed.includes(a) &&
        options.licensesAllowed.includes(b);
      if (a !== b && !bothAllowed) throw new LicenseMismatchError(adapter, base);
    }
  }
}

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
