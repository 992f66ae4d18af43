import { describe, expect, it } from "vitest";
import { detectRepoFormat, transformersFilesToFetch } from "./detect-repo-format.ts";
import { InvalidModelConfigError, MissingModelFileError } from "./errors.ts";

const SHARDED = [
  "README.md",
  "config.json",
  "model-00001-of-00002.safetensors",
  "model-00002-of-00002.safetensors",
  "model.safetensors.index.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "generation_config.json",
  "special_tokens_map.json",
  "original/consolidated.pth",
];
const INDEX = {
  metadata: {},
  weight_map: {
    "a.weight": "model-00001-of-00002.safetensors",
    "b.weight": "model-00002-of-00002.safetensors",
    "c.weight": "model-00001-of-00002.safetensors",
  },
};

describe("detectRepoFormat", () => {
  it("tells transformers, GGUF and neither apart", () => {
    expect(detectRepoFormat(SHARDED)).toBe("transformers");
    expect(detectRepoFormat(["config.json", "model.safetensors", "tokenizer.model"])).toBe("transformers");
    expect(detectRepoFormat(["README.md", "model.Q4_K_M.GGUF"])).toBe("gguf");
    // Both: the transformers files are what is read when no GGUF file is configured.
    expect(detectRepoFormat(["config.json", "model.safetensors", "model.Q8_0.gguf"])).toBe("transformers");
    expect(detectRepoFormat(["config.json", "pytorch_model.bin", "tokenizer.json"])).toBeUndefined();
    expect(detectRepoFormat(["README.md", "data.csv"])).toBeUndefined();
    expect(detectRepoFormat(["model.safetensors"])).toBeUndefined();
  });
});

describe("transformersFilesToFetch", () => {
  it("lists the index first, then its shards once it is known, and the tokenizer files present", () => {
    expect(transformersFilesToFetch(SHARDED)).toEqual([
      "config.json",
      "model.safetensors.index.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "generation_config.json",
      "special_tokens_map.json",
    ]);
    expect(transformersFilesToFetch(SHARDED, INDEX)).toEqual([
      "config.json",
      "model.safetensors.index.json",
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
      "generation_config.json",
      "special_tokens_map.json",
    ]);
    expect(
      transformersFilesToFetch([
        "config.json",
        "model.safetensors",
        "tokenizer.model",
        "tokenizer.json",
        "chat_template.jinja",
      ]),
    ).toEqual(["config.json", "model.safetensors", "tokenizer.json", "tokenizer.model", "chat_template.jinja"]);
  });

  it("refuses what cannot be converted, naming the missing file", () => {
    expect(() => transformersFilesToFetch(["model.safetensors", "tokenizer.json"])).toThrow(
      new MissingModelFileError("config.json"),
    );
    expect(() => transformersFilesToFetch(["config.json", "tokenizer.json"])).toThrow(MissingModelFileError);
    expect(() => transformersFilesToFetch(["config.json", "model.safetensors"])).toThrow(
      /tokenizer\.json or tokenizer\.model/,
    );
    expect(() => transformersFilesToFetch(SHARDED, { weight_map: { a: "model-00003-of-00003.safetensors" } })).toThrow(
      new MissingModelFileError("model-00003-of-00003.safetensors"),
    );
    expect(() => transformersFilesToFetch(SHARDED, { weight_map: { a: "../etc/passwd.safetensors" } })).toThrow(
      InvalidModelConfigError,
    );
    expect(() => transformersFilesToFetch(SHARDED, {})).toThrow(InvalidModelConfigError);
  });
});
