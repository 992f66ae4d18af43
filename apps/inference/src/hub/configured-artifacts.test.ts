import { readInferenceEnv } from "@slm/config";
import { describe, expect, it } from "vitest";
import { configuredArtifacts, transformersBaseOf } from "./configured-artifacts.ts";

const LORA = {
  MODEL_TYPE: "lora",
  BASE_MODEL: "acme/base-GGUF",
  BASE_MODEL_FILE: "base.gguf",
  BASE_MODEL_VERSION: "v1",
};

describe("configuredArtifacts", () => {
  it("lists the base and a PEFT adapter's two files, each with its own repo and revision", () => {
    const model = readInferenceEnv({ ...LORA, LORA_ID: "acme/poet", LORA_VERSION: "v2" }).model;
    expect(configuredArtifacts(model)).toEqual([
      { role: "base", repo: "acme/base-GGUF", revision: "v1", file: "base.gguf", sha256: undefined },
      { role: "adapter_config", repo: "acme/poet", revision: "v2", file: "adapter_config.json", sha256: undefined },
      {
        role: "adapter_weights",
        repo: "acme/poet",
        revision: "v2",
        file: "adapter_model.safetensors",
        sha256: undefined,
      },
    ]);
  });

  it("lists a GGUF adapter as one file, and names each adapter's artifacts with LORA_ADAPTERS", () => {
    const single = readInferenceEnv({ ...LORA, LORA_ID: "acme/poet", LORA_FILE: "poet.gguf" }).model;
    expect(configuredArtifacts(single).map((a) => [a.role, a.file])).toEqual([
      ["base", "base.gguf"],
      ["adapter", "poet.gguf"],
    ]);
    const multi = readInferenceEnv({
      ...LORA,
      LORA_ADAPTERS: "poet=acme/poet@v2,critic=acme/critic@v3:critic.gguf",
    }).model;
    expect(configuredArtifacts(multi).map((a) => [a.role, a.adapter, a.revision])).toEqual([
      ["base", undefined, "v1"],
      ["adapter_config", "poet", "v2"],
      ["adapter_weights", "poet", "v2"],
      ["adapter", "critic", "v3"],
    ]);
  });

  it("leaves a transformers base (BASE_MODEL_FILE unset) to be listed, and names only the adapter's files", () => {
    const model = readInferenceEnv({
      MODEL_TYPE: "lora",
      BASE_MODEL: "meta/llama",
      LORA_ID: "acme/poet",
      MODEL_VERSION: "v0.1.0",
    }).model;
    expect(transformersBaseOf(model)).toEqual({ repo: "meta/llama", revision: "main" });
    expect(configuredArtifacts(model).map((a) => [a.role, a.repo, a.revision])).toEqual([
      ["adapter_config", "acme/poet", "v0.1.0"],
      ["adapter_weights", "acme/poet", "v0.1.0"],
    ]);
    expect(transformersBaseOf(readInferenceEnv({ ...LORA, LORA_ID: "acme/poet" }).model)).toBeUndefined();
  });
});
