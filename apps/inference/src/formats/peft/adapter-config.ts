import { expectationMessage } from "@slm/config";
import * as v from "valibot";
import { AdapterConfigError } from "./errors.ts";

/**
 * The fields of PEFT's `adapter_config.json` (LoraConfig) that decide how an adapter is applied. Defaults are
 * PEFT's; unknown fields are ignored (PEFT adds new ones often), fields that change the math are refused later.
 */
const AdapterConfigSchema = v.looseObject({
  peft_type: v.optional(v.string(), "LORA"),
  r: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 8),
  lora_alpha: v.optional(v.pipe(v.number(), v.finite()), 8),
  use_rslora: v.optional(v.boolean(), false),
  rank_pattern: v.optional(v.nullable(v.record(v.string(), v.pipe(v.number(), v.integer(), v.minValue(1)))), {}),
  alpha_pattern: v.optional(v.nullable(v.record(v.string(), v.pipe(v.number(), v.finite()))), {}),
  use_dora: v.optional(v.boolean(), false),
  modules_to_save: v.optional(v.nullable(v.array(v.string())), null),
  fan_in_fan_out: v.optional(v.boolean(), false),
  bias: v.optional(v.picklist(["none", "all", "lora_only"]), "none"),
  lora_bias: v.optional(v.boolean(), false),
  base_model_name_or_path: v.optional(v.nullable(v.string()), null),
  target_modules: v.optional(v.nullable(v.union([v.string(), v.array(v.string())])), null),
});

export interface AdapterConfig {
  peftType: string;
  r: number;
  loraAlpha: number;
  useRslora: boolean;
  /** Per-module rank overrides: the first key k whose regex `^(.*\.)?(k)$` matches the module path wins. */
  rankPattern: Readonly<Record<string, number>>;
  /** Per-module alpha overrides, matched like rankPattern. */
  alphaPattern: Readonly<Record<string, number>>;
  useDora: boolean;
  modulesToSave: readonly string[];
  fanInFanOut: boolean;
  bias: "none" | "all" | "lora_only";
  loraBias: boolean;
  /** The model the adapter was trained on, as declared; compare it with the configured base. */
  baseModelNameOrPath: string | undefined;
  /** Informational: the tensors say what is actually adapted. */
  targetModules: string | readonly string[] | undefined;
}

/** Parses the text (or bytes) of `adapter_config.json`; one error lists every bad field. */
export function parseAdapterConfig(source: string | Uint8Array): AdapterConfig {
  let json: unknown;
  try {
    json = JSON.parse(typeof source === "string" ? source : new TextDecoder().decode(source));
  } catch {
    throw new AdapterConfigError("not valid JSON");
  }
  const parsed = v.safeParse(AdapterConfigSchema, json);
  if (!parsed.success) {
    const problems = parsed.issues.map((issue) => `${v.getDotPath(issue) ?? "(root)"} ${expectationMessage(issue)}`);
    throw new AdapterConfigError(problems.join("; "));
  }
  const config = parsed.output;
  return {
    peftType: config.peft_type,
    r: config.r,
    loraAlpha: config.lora_alpha,
    useRslora: config.use_rslora,
    rankPattern: config.rank_pattern ?? {},
    alphaPattern: config.alpha_pattern ?? {},
    useDora: config.use_dora,
    modulesToSave: config.modules_to_save ?? [],
    fanInFanOut: config.fan_in_fan_out,
    bias: config.bias,
    loraBias: config.lora_bias,
    baseModelNameOrPath: config.base_model_name_or_path ?? undefined,
    targetModules: config.target_modules ?? undefined,
  };
}
