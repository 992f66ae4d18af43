import type { AdapterConfig } from "./adapter-config.ts";
import { AdapterConfigError } from "./errors.ts";

export interface ModuleScaling {
  rank: number;
  alpha: number;
  /** PEFT's `scaling`: alpha / rank, or alpha / sqrt(rank) with rsLoRA. */
  scale: number;
}

/** The rank, alpha and scaling PEFT uses for one module, honouring rank_pattern, alpha_pattern and use_rslora. */
export function moduleScaling(config: AdapterConfig, module: string): ModuleScaling {
  const rankKey = matchPattern(Object.keys(config.rankPattern), module);
  const alphaKey = matchPattern(Object.keys(config.alphaPattern), module);
  const rank = rankKey === undefined ? config.r : config.rankPattern[rankKey]!;
  const alpha = alphaKey === undefined ? config.loraAlpha : config.alphaPattern[alphaKey]!;
  return { rank, alpha, scale: alpha / (config.useRslora ? Math.sqrt(rank) : rank) };
}

/** PEFT's get_pattern_key: the first key k for which `(.*\.)?(k)$` matches the whole module path. */
function matchPattern(keys: readonly string[], module: string): string | undefined {
  return keys.find((key) => {
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(.*\\.)?(${key})$`);
    } catch {
      throw new AdapterConfigError(`pattern key ${JSON.stringify(key)} is not a valid regular expression`);
    }
    return pattern.test(module);
  });
}
