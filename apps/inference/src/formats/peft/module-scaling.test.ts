import { describe, expect, it } from "vitest";
import { parseAdapterConfig } from "./adapter-config.ts";
import { AdapterConfigError } from "./errors.ts";
import { moduleScaling } from "./module-scaling.ts";

const config = (fields: Record<string, unknown>) => parseAdapterConfig(JSON.stringify(fields));
const Q0 = "model.layers.0.self_attn.q_proj";
const Q1 = "model.layers.1.self_attn.q_proj";

describe("moduleScaling", () => {
  it("is alpha / r by default and alpha / sqrt(r) with rsLoRA", () => {
    expect(moduleScaling(config({ r: 4, lora_alpha: 8 }), Q0)).toEqual({ rank: 4, alpha: 8, scale: 2 });
    expect(moduleScaling(config({ r: 4, lora_alpha: 8, use_rslora: true }), Q0).scale).toBe(4);
  });

  it("takes per-module rank and alpha from the patterns, matching whole dotted suffixes", () => {
    const patterned = config({
      r: 8,
      lora_alpha: 16,
      rank_pattern: { "layers.1.self_attn.q_proj": 2, q_proj: 4 },
      alpha_pattern: { "self_attn\\.[qk]_proj": 1 },
    });
    expect(moduleScaling(patterned, Q1)).toEqual({ rank: 2, alpha: 1, scale: 0.5 }); // first matching key wins
    expect(moduleScaling(patterned, Q0)).toEqual({ rank: 4, alpha: 1, scale: 0.25 });
    expect(moduleScaling(patterned, "model.layers.0.self_attn.v_proj")).toEqual({ rank: 8, alpha: 16, scale: 2 });
    // "q_proj" must match a whole path component: not "qq_proj".
    expect(moduleScaling(patterned, "model.layers.0.self_attn.qq_proj").rank).toBe(8);
  });

  it("refuses a pattern that is not a regular expression", () => {
    expect(() => moduleScaling(config({ rank_pattern: { "q_proj(": 2 } }), Q0)).toThrow(AdapterConfigError);
  });
});
