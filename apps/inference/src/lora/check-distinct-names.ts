import { DuplicateModelNameError } from "./errors.ts";

/** LORA_ADAPTERS: the bare base and every adapter are selected by name, so no adapter may take the base's name. */
export function checkDistinctNames(baseName: string, adapters: ReadonlyArray<{ name: string }>): void {
  if (adapters.some((a) => a.name === baseName)) throw new DuplicateModelNameError(baseName);
}
