import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readInferenceEnv } from "@slm/config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkAdapterCompatibility, matchesBase, type AdapterFacts } from "./check-adapter-compatibility.ts";
import { BaseModelMismatchError, LicenseMismatchError } from "./errors.ts";

const lora = (env: Record<string, string> = {}) =>
  readInferenceEnv({ MODEL_TYPE: "lora", LORA_ID: "acme/poet", BASE_MODEL: "meta/llama-hf", ...env }).model.lora!;

describe("checkAdapterCompatibility", () => {
  let dir: string;
  let configPath: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "compat-"));
    configPath = join(dir, "adapter_config.json");
    await writeFile(configPath, JSON.stringify({ peft_type: "LORA", base_model_name_or_path: "meta/llama-hf" }));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const adapter = (facts: Partial<AdapterFacts> = {}): AdapterFacts => ({
    repo: "acme/poet",
    license: "llama3",
    cardBaseModel: undefined,
    configPath,
    ...facts,
  });
  const check = (
    facts: Partial<AdapterFacts>,
    base: string | undefined,
    env: Record<string, string> = {},
    allowed: string[] = [],
  ) =>
    checkAdapterCompatibility({
      lora: lora(env),
      adapters: [adapter(facts)],
      base: { repo: "meta/llama-hf", license: base },
      licensesAllowed: allowed,
    });

  it("accepts equal licences (any case), two undeclared ones, and two different ones both allowed", async () => {
    await expect(check({ license: "Llama3" }, "llama3")).resolves.toBeUndefined();
    await expect(check({ license: undefined }, undefined)).resolves.toBeUndefined();
    await expect(check({ license: "mit" }, "apache-2.0", {}, ["mit", "apache-2.0"])).resolves.toBeUndefined();
  });

  it("refuses different licences with one line naming both, unless LORA_LICENSE_MATCH=off", async () => {
    const error = await check({ license: "mit" }, "llama3").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LicenseMismatchError);
    expect((error as Error).message).toMatch(
      /^the adapter acme\/poet declares license mit but its base meta\/llama-hf declares llama3: .*LORA_LICENSE_MATCH=off/,
    );
    expect((error as Error).message).not.toContain("\n");
    await expect(check({ license: "mit" }, "llama3", {}, ["mit"])).rejects.toBeInstanceOf(LicenseMismatchError);
    await expect(check({ license: undefined }, "llama3")).rejects.toThrow(/declares license \(none\) but/);
    await expect(check({ license: "mit" }, "llama3", { LORA_LICENSE_MATCH: "off" })).resolves.toBeUndefined();
  });

  it("checks the declared base: base_model_name_or_path first, else the card's base_model", async () => {
    await expect(check({ license: "llama3" }, "llama3", { BASE_MODEL: "other/model" })).rejects.toBeInstanceOf(
      BaseModelMismatchError,
    );
    await expect(check({ configPath: undefined, cardBaseModel: "other/model" }, "llama3")).rejects.toThrow(
      /trained on other\/model but BASE_MODEL is meta\/llama-hf/,
    );
    await expect(check({ configPath: undefined, cardBaseModel: "meta/llama-hf" }, "llama3")).resolves.toBeUndefined();
    await expect(
      check({ configPath: undefined, cardBaseModel: "other/model" }, "llama3", { LORA_BASE_MATCH: "off" }),
    ).resolves.toBeUndefined();
  });
});

describe("matchesBase", () => {
  it("accepts the same repo and its GGUF conversion by another org", () => {
    expect(matchesBase("meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-1B")).toBe(true);
    expect(matchesBase("meta-llama/Llama-3.2-1B", "bartowski/Llama-3.2-1B-GGUF")).toBe(true);
    expect(matchesBase("/data/models/Qwen2-0.5B/", "Qwen/Qwen2-0.5B-GGUF")).toBe(true);
  });

  it("refuses another model", () => {
    expect(matchesBase("meta-llama/Llama-3.2-3B", "bartowski/Llama-3.2-1B-GGUF")).toBe(false);
    expect(matchesBase("other/model", "tiny/base")).toBe(false);
    expect(matchesBase("tiny/base-instruct", "tiny/base-GGUF")).toBe(false);
  });
});
