import { readFile } from "node:fs/promises";
import { readLlamaSourceText } from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { chooseChatTemplate } from "../src/engine/prompt/index.ts";
import { TEMPLATE_BOS, TEMPLATE_CASES, TEMPLATE_EOS, type TemplateGolden } from "./fidelity/template-cases.ts";

/**
 * Every chat template of the llama.cpp source node-llama-cpp bundles, rendered by our prompt builder, against the
 * prompt llama-server's /apply-template gave for the same conversation (goldens/templates.json). In process and
 * model-free: rendering only.
 */
const golden = JSON.parse(
  await readFile(new URL("./fidelity/goldens/templates.json", import.meta.url), "utf8"),
) as TemplateGolden;

/**
 * Where we knowingly differ, and why. Everything else must match exactly. llama-server also specialises some
 * families (its own message handling per family); the renderer differences are @huggingface/jinja's.
 */
const KNOWN_DIFFERENCES: Record<string, { cases: readonly string[]; why: string }> = {
  "ByteDance-Seed-OSS.jinja": { cases: ["*"], why: "a dict literal with integer keys: @huggingface/jinja refuses it" },
  "fireworks-ai-llama-3-firefunction-v2.jinja": {
    cases: ["*"],
    why: "`+` on an undefined variable: an error in @huggingface/jinja (and in jinja2)",
  },
  "CohereForAI-c4ai-command-r-plus-tool_use.jinja": {
    cases: ["tools", "tool-round-trip"],
    why: "`+` on an undefined variable",
  },
  "meetkai-functionary-medium-v3.1.jinja": {
    cases: ["one-user", "system-user", "multi-turn", "content-parts", "thinking-off"],
    why: "selectattr on none",
  },
  "tencent-Hy3.jinja": {
    cases: ["*"],
    why: "calls a function llama.cpp's renderer defines and @huggingface/jinja does not",
  },
  "unsloth-Apriel-1.5.jinja": { cases: ["tools", "tool-round-trip"], why: "the `string` filter on a dict" },
  "Apriel-1.6-15b-Thinker-fixed.jinja": { cases: ["tools", "tool-round-trip"], why: "the `string` filter on a dict" },
  "Kimi-K2-Instruct.jinja": {
    cases: ["tool-round-trip"],
    why: "`append()`/`pop()` on a list: @huggingface/jinja's lists have no such methods",
  },
  "Kimi-K2-Thinking.jinja": {
    cases: ["tool-round-trip"],
    why: "`append()`/`pop()` on a list: @huggingface/jinja's lists have no such methods",
  },
  "openbmb-MiniCPM5-1B.jinja": {
    cases: ["tool-round-trip"],
    why: "the `min` filter on a list: @huggingface/jinja has none",
  },
  "google-gemma-4-31B-it-interleaved.jinja": {
    cases: ["tool-round-trip"],
    why: "llama-server's Gemma 4 handler folds tool results into the model's turn",
  },
  "deepseek-ai-DeepSeek-V4.jinja": {
    cases: ["multi-turn"],
    why: "llama-server's DeepSeek V4 handler rewrites past assistant turns",
  },
  "deepseek-ai-DeepSeek-V4-Flash-0731.jinja": {
    cases: ["multi-turn"],
    why: "llama-server's DeepSeek V4 handler rewrites past assistant turns",
  },
  "LFM2.5-8B-A1B.jinja": {
    cases: ["content-parts"],
    why: "llama-server's LFM2 handler joins text parts before the template",
  },
  "mistralai-Ministral-3-14B-Reasoning-2512.jinja": {
    cases: ["content-parts"],
    why: "llama-server's Ministral 3 handler joins text parts",
  },
};

const known = (file: string, name: string) => {
  const entry = KNOWN_DIFFERENCES[file];
  return entry !== undefined && (entry.cases.includes("*") || entry.cases.includes(name));
};

describe(`chat templates rendered as llama-server renders them (${golden.recordedWith})`, () => {
  // Templates print today's date (Llama 3.x "Today Date"): render at the instant the goldens were recorded.
  beforeAll(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(golden.recordedAt));
  });
  afterAll(() => vi.useRealTimers());

  const files = Object.keys(golden.prompts);
  it("covers every bundled template", () => {
    expect(files.length).toBeGreaterThanOrEqual(60);
  });

  for (const file of files) {
    it(file, async () => {
      const template = chooseChatTemplate({
        ggufTemplate: await readLlamaSourceText(`models/templates/${file}`),
        bosToken: TEMPLATE_BOS,
        eosToken: TEMPLATE_EOS,
        addBos: true,
        addEos: false,
      });
      for (const { name, body } of TEMPLATE_CASES) {
        const expected = golden.prompts[file]![name]!;
        let actual: string | { error: number };
        try {
          actual = template.render({
            messages: body["messages"] as never,
            tools: body["tools"] as unknown[] | undefined,
            kwargs: body["chat_template_kwargs"] as Record<string, unknown> | undefined,
          });
        } catch {
          actual = { error: 400 };
        }
        if (known(file, name)) {
          expect(actual, `${file} ${name} now matches: remove it from KNOWN_DIFFERENCES`).not.toEqual(expected);
          continue;
        }
        // A conversation llama-server refuses is refused here too (status aside).
        if (typeof expected !== "string") expect(typeof actual, `${file} ${name}`).not.toBe("string");
        else expect(actual, `${file} ${name}`).toBe(expected);
      }
    });
  }
});
