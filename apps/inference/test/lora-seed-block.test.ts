// The users' guide LoRA block, copied as is (repo names changed to the fake Hub's, comments after values kept, passed
// verbatim as `docker run --env-file` does), end to end with real processes: fake Hub -> inference (transformers base
// listed, verified, converted; PEFT adapter pinned by MODEL_VERSION) -> gateway, with the official openai client.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import {
  generatePeftAdapter,
  generateTransformersModel,
  jsonLine,
  readDirFiles,
  startFakeHub,
  startService,
  type FakeHub,
} from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failInference, startInference } from "./start-inference.ts";

const gatewayDir = fileURLToPath(new URL("../../gateway", import.meta.url));
const TINY = { base: { nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128 } };
const BASE = "meta-llama/Tiny-Llama-3-Instruct";
const ADAPTER = "org/commerce-slm-lora";
const token = `hf_${randomBytes(12).toString("hex")}`;

/** The guide's block with the fake Hub's repo names. */
const SEED = `MODEL_REGISTRY=huggingface
MODEL_ID=org/commerce-slm-eco-bst-acc
MODEL_VERSION=v0.1.0              # tag or commit hash
MODEL_TYPE=lora
MODEL_FILE=model.Q4_K_M.gguf      # for gguf
LORA_ID=${ADAPTER}
BASE_MODEL=${BASE}  # license-compatible base
HF_TOKEN=${token}                      # only if private
`;

/** `docker run --env-file`: the rest of the line after `=` is the value, comments included. */
const verbatim = (text: string) =>
  Object.fromEntries(
    text
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

describe("the users' LoRA block on a transformers base", { timeout: 180_000 }, () => {
  let hub: FakeHub;
  let dir: string;
  let tagCommit: string;
  let adapter: (seed: number, baseModelName?: string) => Record<string, string | Uint8Array>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lora-seed-"));
    hub = await startFakeHub();
    await generateTransformersModel({ architecture: "LlamaForCausalLM", dir: join(dir, "base"), seed: 3 });
    hub.addRepo({
      id: BASE,
      private: true,
      license: "llama3",
      files: { ...(await readDirFiles(join(dir, "base"))), "README.md": "# base\n" },
    });
    adapter = (seed: number, baseModelName = BASE) => generatePeftAdapter({ ...TINY, seed, baseModelName }).files;
    tagCommit = hub.addRepo({ id: ADAPTER, private: true, license: "llama3", files: adapter(5) });
    hub.tag(ADAPTER, "v0.1.0", tagCommit);
    hub.addRepo({ id: "org/mit-lora", license: "mit", files: adapter(5) });
    hub.addRepo({ id: "org/foreign-lora", license: "llama3", files: adapter(5, "someone/other-model") });
    hub.addRepo({
      id: "org/a-dataset",
      license: "llama3",
      files: { "README.md": "# data\n", "train.csv": "a,b\n1,2\n" },
    });
    await generateTransformersModel({
      architecture: "LlamaForCausalLM",
      dir: join(dir, "gpt2"),
      configOverrides: { architectures: ["GPT2LMHeadModel"] },
    });
    hub.addRepo({ id: "org/gpt2-like", license: "llama3", files: await readDirFiles(join(dir, "gpt2")) });
    hub.addToken(token, { canRead: "all" });
  });
  afterAll(async () => {
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const env = (cache: string, extra: Record<string, string> = {}) => ({
    ...verbatim(SEED),
    HF_ENDPOINT: hub.url,
    MODEL_CACHE_DIR: join(dir, cache, "hub"),
    MODEL_LOCKFILE: "none",
    CONTEXT_SIZE: "256",
    LLAMA_THREADS: "1",
    PARALLEL: "1",
    ...extra,
  });
  const line = (lines: readonly string[], msg: string) => lines.map(jsonLine).find((j) => j?.msg === msg);
  const ask = async (url: string) => {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "x",
        messages: [{ role: "user", content: "hello there" }],
        max_tokens: 12,
        temperature: 0,
      }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message
      .content;
  };

  it("serves the adapter through the gateway, pinned at the tag's commit, with one warning per ignored variable", async () => {
    const inferenceKey = `ik-${randomBytes(16).toString("hex")}`;
    const apiKey = `sk-${randomBytes(16).toString("hex")}`;
    const inference = await startInference(env("ok", { INFERENCE_API_KEY: inferenceKey }), 120_000);
    const gateway = await startService<Record<string, unknown>>({
      command: ["node", "--import", "tsx", "src/runtime/node.ts"],
      cwd: gatewayDir,
      env: {
        GATEWAY_PORT: "0",
        INFERENCE_URL: inference.url,
        GATEWAY_API_KEYS: apiKey,
        INFERENCE_API_KEY: inferenceKey,
      },
      readyWhen: (l) => (jsonLine(l)?.msg === "listening" ? jsonLine(l) : undefined),
    });
    try {
      const client = new OpenAI({
        baseURL: `http://127.0.0.1:${String(gateway.ready.port)}/v1`,
        apiKey,
        maxRetries: 0,
      });
      expect((await client.models.list()).data.map((m) => m.id)).toEqual(["commerce-slm-lora"]);
      const chat = await client.chat.completions.create({
        model: "commerce-slm-lora",
        messages: [{ role: "user", content: "hello there" }],
        max_tokens: 12,
        temperature: 0,
      });
      expect(chat.choices[0]?.message.content?.length).toBeGreaterThan(0);
      expect(chat.usage?.completion_tokens).toBeGreaterThan(0);

      const { lines } = inference.service;
      const warnings = lines.map(jsonLine).filter((j) => j?.msg?.toString().includes("is set but ignored"));
      expect(warnings.map((w) => w?.variable)).toEqual(["MODEL_ID", "MODEL_FILE"]);
      expect(JSON.stringify(warnings)).not.toMatch(/commerce-slm-eco|Q4_K_M/);
      expect(line(lines, "LoRA adapter ready")).toMatchObject({
        revision: "v0.1.0",
        commit: tagCommit,
        format: "peft",
        converted: true,
      });
      expect(line(lines, "base model converted to GGUF")).toMatchObject({
        model: BASE,
        revision: "main",
        quant: "q8_0",
        converted: true,
      });
      expect(lines.join("\n")).not.toContain(token);
    } finally {
      await gateway.stop();
      await inference.service.stop();
    }
  });

  it("restarts on the converted cache with the same answer, still at the tag's commit although main moved", async () => {
    const first = await startInference(env("restart"), 120_000);
    const pinned = await ask(first.url).finally(() => first.service.stop());
    expect(line(first.service.lines, "LoRA adapter ready")).toMatchObject({ commit: tagCommit });
    // main moves on after the release (another adapter): the tag is still what is served.
    const movedMain = hub.commit(ADAPTER, adapter(9));
    expect(movedMain).not.toBe(tagCommit);
    const again = await startInference(env("restart"), 120_000);
    try {
      expect(await ask(again.url)).toBe(pinned);
      expect(line(again.service.lines, "base model converted to GGUF")).toMatchObject({ converted: false });
      expect(line(again.service.lines, "LoRA adapter ready")).toMatchObject({
        revision: "v0.1.0",
        commit: tagCommit,
        converted: false,
      });
    } finally {
      await again.service.stop();
    }
  });

  it("with LORA_MERGE=1 folds the adapter into the converted base and serves it under the adapter's name", async () => {
    const merged = await startInference(env("merge", { LORA_MERGE: "1", BASE_MODEL_QUANT: "f16" }), 120_000);
    try {
      const models = (await (await fetch(`${merged.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toEqual(["commerce-slm-lora"]);
      expect(line(merged.service.lines, "base model converted to GGUF")).toMatchObject({
        merged: true,
        quant: "f16",
        converted: true,
      });
      expect(line(merged.service.lines, "LoRA adapter ready")).toBeUndefined();
      expect((await ask(merged.url)).length).toBeGreaterThan(0);
    } finally {
      await merged.service.stop();
    }
  });

  /** Everything under the run's cache folders: no partial download or conversion may remain. */
  async function leftovers(cache: string): Promise<string[]> {
    const all = await readdir(join(dir, cache), { recursive: true }).catch(() => [] as string[]);
    return all.filter((f) => /\.(incomplete|tmp)$|slm-converted-base\/./.test(String(f))).map(String);
  }

  it.each([
    [
      "a licence mismatch",
      { LORA_ID: "org/mit-lora", MODEL_VERSION: "main" },
      "lora_license_mismatch",
      /declares license mit but its base meta-llama\/Tiny-Llama-3-Instruct declares llama3/,
    ],
    [
      "a foreign base",
      { LORA_ID: "org/foreign-lora", MODEL_VERSION: "main" },
      "lora_base_mismatch",
      /trained on someone\/other-model but BASE_MODEL is meta-llama\/Tiny-Llama-3-Instruct/,
    ],
    [
      "a repo that is not a model",
      { BASE_MODEL: "org/a-dataset", LORA_BASE_MATCH: "off" },
      "not_a_model_repo",
      /BASE_MODEL is not a model repo: .*repo org\/a-dataset/,
    ],
    [
      "an architecture the converter refuses",
      { BASE_MODEL: "org/gpt2-like", LORA_BASE_MATCH: "off" },
      "convert_unsupported_architecture",
      /architecture "GPT2LMHeadModel" cannot be converted/,
    ],
  ])("stops startup on %s with one line, leaving no partial file", async (_name, extra, code, message) => {
    const cache = `fail-${code}`;
    const { code: exit, lines } = await failInference(env(cache, extra));
    expect(exit).toBe(1);
    const fatal = lines.map(jsonLine).filter((j) => j?.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ code });
    expect(String(fatal[0]?.msg)).toMatch(message);
    expect(lines.join("\n")).not.toContain(token);
    expect(await leftovers(cache)).toEqual([]);
  });
});
