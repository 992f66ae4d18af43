// The proof, served: for a qwen2 base (no rotary reorder) and for an rsLoRA adapter with rank/alpha patterns,
// a real inference process resolving base + PEFT adapter from the fake Hub answers greedily exactly like a process
// serving the hand-merged model, and like the bare base at LORA_SCALE=0.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  generateLoraBase,
  generateMergedLlama,
  generatePeftAdapter,
  startFakeHub,
  type FakeHub,
  type TinyLoraOptions,
} from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInference } from "./start-inference.ts";
import { loraEnv, servingEnv } from "./lora-env.ts";

const VARIANTS: Record<string, TinyLoraOptions> = {
  qwen2: { base: { seed: 4, architecture: "qwen2", nHead: 4, nHeadKv: 2 }, seed: 6, baseModelName: "acme/qwen2-base" },
  rslora: {
    base: { seed: 3, nHead: 4, nHeadKv: 2 },
    seed: 8,
    useRslora: true,
    rankPattern: { v_proj: 2 },
    alphaPattern: { o_proj: 3 },
    baseModelName: "acme/rslora-base",
  },
};
const PROMPT = "Hello world the model says";

describe.each(Object.entries(VARIANTS))(
  "MODEL_TYPE=lora served from the fake Hub: %s",
  { timeout: 240_000 },
  (name, options) => {
    let hub: FakeHub;
    let dir: string;
    const baseRepo = `${options.baseModelName}-GGUF`;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `lora-${name}-`));
      hub = await startFakeHub();
      hub.addRepo({ id: baseRepo, files: { "base.gguf": generateLoraBase(options) } });
      hub.addRepo({ id: "acme/adapter", files: generatePeftAdapter(options).files });
      hub.addRepo({ id: "acme/merged", files: { "merged.gguf": generateMergedLlama(options, 1) } });
    });
    afterAll(async () => {
      await hub?.close();
      await rm(dir, { recursive: true, force: true });
    });

    const common = () => servingEnv(hub.url, join(dir, "cache"));
    const lora = (scale: string) =>
      loraEnv(common(), { baseRepo, baseFile: "base.gguf", adapterRepo: "acme/adapter" }, { LORA_SCALE: scale });

    async function greedy(env: Record<string, string>): Promise<string> {
      const inference = await startInference(env, 120_000);
      try {
        const response = await fetch(`${inference.url}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: PROMPT, temperature: 0, max_tokens: 16 }),
        });
        expect(response.status).toBe(200);
        return ((await response.json()) as { choices: Array<{ text: string }> }).choices[0]!.text;
      } finally {
        await inference.service.stop();
      }
    }

    it("equals the merged model at scale 1 and the base at scale 0", async () => {
      const adapted = await greedy(lora("1"));
      const merged = await greedy({ ...common(), MODEL_ID: "acme/merged", MODEL_FILE: "merged.gguf" });
      const off = await greedy(lora("0"));
      const base = await greedy({ ...common(), MODEL_ID: baseRepo, MODEL_FILE: "base.gguf" });
      expect(adapted).toBe(merged);
      expect(off).toBe(base);
      expect(adapted).not.toBe(base); // otherwise the comparisons prove nothing
    });
  },
);
