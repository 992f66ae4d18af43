import { describe, expect, it } from "vitest";
import { parseAdapterConfig } from "./adapter-config.ts";
import { AdapterConfigError } from "./errors.ts";

describe("parseAdapterConfig", () => {
  it("reads a PEFT config and ignores fields it does not need", () => {
    const config = parseAdapterConfig(
      JSON.stringify({
        peft_type: "LORA",
        r: 16,
        lora_alpha: 32,
        use_rslora: true,
        rank_pattern: { q_proj: 8 },
        alpha_pattern: { v_proj: 4 },
        use_dora: false,
        modules_to_save: ["lm_head"],
        fan_in_fan_out: false,
        bias: "none",
        lora_bias: false,
        base_model_name_or_path: "meta-llama/Llama-3.2-1B",
        target_modules: ["q_proj", "v_proj"],
        task_type: "CAUSAL_LM",
        lora_dropout: 0.05,
      }),
    );
    expect(config).toEqual({
      peftType: "LORA",
      r: 16,
      loraAlpha: 32,
      useRslora: true,
      rankPattern: { q_proj: 8 },
      alphaPattern: { v_proj: 4 },
      useDora: false,
      modulesToSave: ["lm_head"],
      fanInFanOut: false,
      bias: "none",
      loraBias: false,
      baseModelNameOrPath: "meta-llama/Llama-3.2-1B",
      targetModules: ["q_proj", "v_proj"],
    });
  });

  it("applies PEFT's defaults to missing and null fields", () => {
    const config = parseAdapterConfig(new TextEncoder().encode('{"rank_pattern": null, "modules_to_save": null}'));
    expect(config).toMatchObject({
      peftType: "LORA",
      r: 8,
      loraAlpha: 8,
      useRslora: false,
      rankPattern: {},
      modulesToSave: [],
    });
    expect(config.baseModelNameOrPath).toBeUndefined();
  });

  it("lists every bad field in one error", () => {
    const parse = () => parseAdapterConfig('{"r": 0, "lora_alpha": "16", "bias": "some"}');
    expect(parse).toThrow(AdapterConfigError);
    expect(parse).toThrow(/r expected >=1.*lora_alpha expected number.*bias expected/);
  });

  it("refuses text that is not JSON", () => {
    expect(() => parseAdapterConfig("{r: 8")).toThrow("adapter_config.json is not usable: not valid JSON");
  });
});
