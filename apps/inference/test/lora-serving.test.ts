// MODEL_TYPE=lora end to end: a base GGUF repo and a PEFT adapter repo on the fake Hub, each resolved, verified and
// converted by a real inference process. Greedy answers must equal those of a process serving the model with the
// adapter merged by hand (scale 1), and those of the bare base at LORA_SCALE=0.
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  generateLoraBase,
  generateMergedLlama,
  generatePeftAdapter,
  jsonLine,
  startFakeHub,
  type FakeHub,
  type TinyLoraOptions,
} from "@slm/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertPeftToGguf, readBaseModelInfo } from "../src/lora/index.ts";
import { failInference, startInference } from "./start-inference.ts";
import { loraEnv, servingEnv } from "./lora-env.ts";

const OPTIONS: TinyLoraOptions = { base: { seed: 3, nHead: 4, nHeadKv: 2 }, seed: 5, baseModelName: "acme/tiny-base" };
const PROMPT = "Hello world the model says";

describe("MODEL_TYPE=lora serving", { timeout: 240_000 }, () => {
  let hub: FakeHub;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lora-serving-"));
    hub = await startFakeHub();
    const base = generateLoraBase(OPTIONS);
    hub.addRepo({ id: "acme/tiny-base-GGUF", files: { "base.gguf": base } });
    // The same adapter, published ready-made as a GGUF adapter.
    await writeFile(join(dir, "base.gguf"), base);
    const { files } = generatePeftAdapter(OPTIONS);
    const gguf = convertPeftToGguf({
      adapterConfig: files["adapter_config.json"],
      safetensors: files["adapter_model.safetensors"],
      base: await readBaseModelInfo(join(dir, "base.gguf")),
    });
    hub.addRepo({ id: "acme/tiny-poet-gguf", files: { "poet.gguf": gguf } });
    hub.addRepo({ id: "acme/tiny-merged", files: { "merged.gguf": generateMergedLlama(OPTIONS, 1) } });
    hub.addRepo({ id: "acme/tiny-poet", files: generatePeftAdapter(OPTIONS).files });
    hub.addRepo({ id: "acme/tiny-critic", files: generatePeftAdapter({ ...OPTIONS, seed: 9 }).files });
    hub.addRepo({
      id: "acme/foreign-adapter",
      files: generatePeftAdapter({ ...OPTIONS, baseModelName: "other/model" }).files,
    });
  });
  afterAll(async () => {
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const common = () => servingEnv(hub.url, join(dir, "cache"));
  const lora = (extra: Record<string, string> = {}) =>
    loraEnv(common(), { baseRepo: "acme/tiny-base-GGUF", baseFile: "base.gguf", adapterRepo: "acme/tiny-poet" }, extra);

  /** Greedy /v1/completions and /v1/chat/completions text of one served model. */
  async function ask(url: string, model = "any") {
    const post = async (path: string, body: object) => {
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, temperature: 0, max_tokens: 16, ...body }),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as { choices: Array<{ text?: string; message?: { content: string } }> };
    };
    const [completion, chat] = await Promise.all([
      post("/v1/completions", { prompt: PROMPT }),
      post("/v1/chat/completions", { messages: [{ role: "user", content: PROMPT }] }),
    ]);
    return { completion: completion.choices[0]!.text!, chat: chat.choices[0]!.message!.content };
  }

  /** The answers of a process started with `env`, and its model list. */
  async function answers(env: Record<string, string>) {
    const inference = await startInference(env, 120_000);
    try {
      const models = (await (await fetch(`${inference.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      return { ...(await ask(inference.url)), models: models.data.map((m) => m.id), lines: inference.service.lines };
    } finally {
      await inference.service.stop();
    }
  }

  it("serves base + converted PEFT adapter like the merged model, and like the base at LORA_SCALE=0", async () => {
    const adapted = await answers(lora());
    const merged = await answers({ ...common(), MODEL_ID: "acme/tiny-merged", MODEL_FILE: "merged.gguf" });
    const base = await answers({ ...common(), MODEL_ID: "acme/tiny-base-GGUF", MODEL_FILE: "base.gguf" });
    const scaledOff = await answers(lora({ LORA_SCALE: "0" }));

    expect(adapted.completion).toBe(merged.completion);
    expect(adapted.chat).toBe(merged.chat);
    expect(scaledOff.completion).toBe(base.completion);
    expect(scaledOff.chat).toBe(base.chat);
    // The adapter changes the answer, or the comparisons above prove nothing.
    expect(adapted.completion).not.toBe(base.completion);

    // The served name is the adapter repo's name, without the owner.
    expect(adapted.models).toEqual(["tiny-poet"]);
    const ready = adapted.lines.map(jsonLine).find((j) => j?.msg === "LoRA adapter ready");
    expect(ready).toMatchObject({ format: "peft", converted: true, declaredBase: "acme/tiny-base" });
    // The second process reused the conversion cached under the sources' sha256.
    const reused = scaledOff.lines.map(jsonLine).find((j) => j?.msg === "LoRA adapter ready");
    expect(reused).toMatchObject({ converted: false, scale: 0 });
    // One converted adapter, with its recorded sha256 beside it.
    expect(
      (await readdir(join(dir, "slm-converted-lora"))).map((f) => f.replace(/^[0-9a-f]{64}/, "<key>")).sort(),
    ).toEqual(["<key>.gguf", "<key>.gguf.sha256"]);
    // Base and adapter were each resolved at their own revision into the Python-compatible cache.
    const cached = await readdir(join(dir, "cache"));
    expect(cached).toEqual(expect.arrayContaining(["models--acme--tiny-base-GGUF", "models--acme--tiny-poet"]));
  });

  it("serves a ready-made GGUF adapter (LORA_FILE) like the merged model", async () => {
    const adapted = await answers(lora({ LORA_ID: "acme/tiny-poet-gguf", LORA_FILE: "poet.gguf" }));
    const merged = await answers({ ...common(), MODEL_ID: "acme/tiny-merged", MODEL_FILE: "merged.gguf" });
    expect(adapted).toMatchObject({ completion: merged.completion, chat: merged.chat, models: ["tiny-poet-gguf"] });
    expect(adapted.lines.map(jsonLine).find((j) => j?.msg === "LoRA adapter ready")).toMatchObject({ format: "gguf" });
  });

  it("stops at startup with one clear line when the adapter was trained on another base", async () => {
    const { code, lines } = await failInference(lora({ LORA_ID: "acme/foreign-adapter" }));
    expect(code).toBe(1);
    const fatal = lines.map(jsonLine).find((j) => j?.level === 60 || j?.msg?.toString().startsWith("startup failed"));
    expect(fatal?.code).toBe("lora_base_mismatch");
    expect(String(fatal?.msg)).toMatch(
      /trained on other\/model but BASE_MODEL is acme\/tiny-base-GGUF.*LORA_BASE_MATCH=off/,
    );
    expect(lines.join("\n")).not.toContain(dir);
  });

  it("serves the foreign adapter anyway with LORA_BASE_MATCH=off", async () => {
    const served = await answers(
      lora({ LORA_ID: "acme/foreign-adapter", LORA_BASE_MATCH: "off", MODEL_ALIAS: "poet" }),
    );
    expect(served.models).toEqual(["poet"]);
  });

  it("serves two adapters and the bare base from one process, each answering as in its own run, concurrently", async () => {
    const poet = await answers(lora());
    const critic = await answers(lora({ LORA_ID: "acme/tiny-critic" }));
    const base = await answers({ ...common(), MODEL_ID: "acme/tiny-base-GGUF", MODEL_FILE: "base.gguf" });
    expect(new Set([poet.completion, critic.completion, base.completion]).size).toBe(3);

    const multi = lora({ LORA_ADAPTERS: "poet=acme/tiny-poet@main, critic=acme/tiny-critic", PARALLEL: "2" });
    delete (multi as Record<string, string | undefined>).LORA_ID;
    const inference = await startInference(multi, 120_000);
    try {
      const models = (await (await fetch(`${inference.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toEqual(["base", "poet", "critic"]);

      // Every model twice, all at once: each context decodes its own requests while the others run.
      const names = ["poet", "critic", "base", "critic", "poet", "base"];
      const got = await Promise.all(names.map((name) => ask(inference.url, name)));
      const expected: Record<string, { completion: string; chat: string }> = { poet, critic, base };
      got.forEach((answer, i) => {
        expect(answer).toEqual({ completion: expected[names[i]!]!.completion, chat: expected[names[i]!]!.chat });
      });

      const unknown = await fetch(`${inference.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "acme/tiny-poet", prompt: PROMPT, max_tokens: 2 }),
      });
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({
        error: { code: "model_not_found", param: "model", type: "invalid_request_error" },
      });
    } finally {
      await inference.service.stop();
    }
  });
});
