import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { readInferenceEnv } from "../index.ts";

/** The users' guide's LoRA block, exactly as they copy it (comments after values included). */
const SEED = `MODEL_REGISTRY=huggingface
MODEL_ID=org/commerce-slm-eco-bst-acc
MODEL_VERSION=v0.1.0              # tag or commit hash
MODEL_TYPE=lora
MODEL_FILE=model.Q4_K_M.gguf      # for gguf
LORA_ID=org/commerce-slm-lora
BASE_MODEL=meta-llama/Llama-3-Instruct-8B  # license-compatible base
HF_TOKEN=hf_0123456789abcdef                      # only if private
`;

/** `docker run --env-file` semantics: everything after the first `=` is the value, comments and all. */
function verbatimLines(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

describe("readInferenceEnv: the users' LoRA block", () => {
  it("reads the seed block as an adapter pinned by MODEL_VERSION on a transformers base, from a dotenv file or verbatim", () => {
    for (const source of [parseEnv(SEED), verbatimLines(SEED)]) {
      const config = readInferenceEnv(source);
      expect(config.model).toMatchObject({
        type: "lora",
        id: "org/commerce-slm-lora",
        revision: "v0.1.0",
        file: undefined,
        sha256: undefined,
      });
      expect(config.model.lora).toEqual({
        adapters: [{ name: "commerce-slm-lora", id: "org/commerce-slm-lora", revision: "v0.1.0", file: undefined }],
        multi: false,
        scale: 1,
        baseMatch: true,
        licenseMatch: true,
        baseModel: "meta-llama/Llama-3-Instruct-8B",
        baseRevision: "main",
        baseFile: undefined,
        baseQuant: "q8_0",
        merge: false,
      });
      expect(config.hub.token).toBe("hf_0123456789abcdef");
      expect(config.ignored.map((i) => i.variable)).toEqual(["MODEL_ID", "MODEL_FILE"]);
    }
  });

  it("lets LORA_VERSION pin the adapter over MODEL_VERSION (which is then reported as ignored)", () => {
    const config = readInferenceEnv({ ...parseEnv(SEED), LORA_VERSION: "v0.2.0", BASE_MODEL_VERSION: "abc1234" });
    expect(config.model.lora).toMatchObject({ adapters: [{ revision: "v0.2.0" }], baseRevision: "abc1234" });
    expect(config.ignored.map((i) => i.variable)).toEqual(["MODEL_ID", "MODEL_FILE", "MODEL_VERSION"]);
  });

  it("reports LoRA variables as ignored with MODEL_TYPE=gguf, by name only", () => {
    const config = readInferenceEnv({
      MODEL_ID: "acme/m",
      MODEL_FILE: "m.gguf",
      LORA_ID: "acme/secret-adapter",
      BASE_MODEL: "acme/base",
      BASE_MODEL_QUANT: "f16",
      LORA_MERGE: "1",
    });
    expect(config.model.lora).toBeUndefined();
    expect(config.ignored.map((i) => i.variable)).toEqual(["LORA_ID", "LORA_MERGE", "BASE_MODEL", "BASE_MODEL_QUANT"]);
    expect(JSON.stringify(config.ignored)).not.toContain("secret-adapter");
    expect(readInferenceEnv({ MODEL_ID: "acme/m", MODEL_FILE: "m.gguf" }).ignored).toEqual([]);
  });

  it("drops inline comments without touching free text or values that hold '#' without a space", () => {
    const config = readInferenceEnv({
      MODEL_ID: "acme/m   # the repo",
      MODEL_FILE: "m.gguf\t# a file",
      MODEL_VERSION: "# only a comment",
      CHAT_TEMPLATE: "{{ x }} # kept",
    });
    expect(config.model).toMatchObject({ id: "acme/m", file: "m.gguf", revision: "main" });
    expect(config.engine.chatTemplate).toBe("{{ x }} # kept");
    expect(() => readInferenceEnv({ MODEL_ID: "acme/m#x", MODEL_FILE: "m.gguf" })).toThrow(/MODEL_ID/);
  });

  it("reads BASE_MODEL_QUANT, LORA_MERGE and LORA_LICENSE_MATCH, and refuses a merge that cannot happen", () => {
    const seed = parseEnv(SEED);
    const config = readInferenceEnv({ ...seed, BASE_MODEL_QUANT: "f16", LORA_MERGE: "1", LORA_LICENSE_MATCH: "off" });
    expect(config.model.lora).toMatchObject({ baseQuant: "f16", merge: true, licenseMatch: false });
    expect(() => readInferenceEnv({ ...seed, BASE_MODEL_QUANT: "q4_0" })).toThrow(
      /BASE_MODEL_QUANT: expected q8_0 or f16/,
    );
    expect(() => readInferenceEnv({ ...seed, LORA_MERGE: "1", BASE_MODEL_FILE: "base.gguf" })).toThrow(
      /LORA_MERGE: expected .*transformers base/,
    );
    expect(() => readInferenceEnv({ ...seed, LORA_MERGE: "1", LORA_FILE: "a.gguf" })).toThrow(/LORA_MERGE/);
    expect(() => readInferenceEnv({ ...seed, LORA_MERGE: "1", LORA_SCALE: "0.5" })).toThrow(/LORA_MERGE/);
    expect(() => readInferenceEnv({ ...seed, LORA_LICENSE_MATCH: "maybe" })).toThrow(/LORA_LICENSE_MATCH/);
  });
  it("reads a token placeholder copied from the guide (HF_TOKEN=...) as unset, with a warning, and keeps real tokens", () => {
    const copied = SEED.replace("hf_0123456789abcdef", "...");
    for (const source of [parseEnv(copied), verbatimLines(copied)]) {
      const config = readInferenceEnv(source);
      expect(config.hub.token).toBeUndefined();
      expect(config.ignored.map((entry) => entry.variable)).toContain("HF_TOKEN");
    }
    for (const placeholder of ["hf_...", "hf_xxxxxxxx", "<your token>", "\u2026"]) {
      expect(readInferenceEnv({ HF_TOKEN: placeholder }).hub.token).toBeUndefined();
    }
    expect(readInferenceEnv({ HF_TOKEN: "hf_0123456789abcdef" }).hub.token).toBe("hf_0123456789abcdef");
    expect(readInferenceEnv({ HF_TOKEN: "hf_0123456789abcdef" }).ignored).toEqual([]);
    expect(() => readInferenceEnv({ HF_TOKEN: "not-a-token" })).toThrow(/HF_TOKEN/);
  });
});
