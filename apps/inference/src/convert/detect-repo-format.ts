import { MissingModelFileError } from "./errors.ts";
import { shardsOfIndex } from "./read-weight-shards.ts";

const TOKENIZER_FILES = ["tokenizer.json", "tokenizer.model"];
const OPTIONAL_FILES = [
  "tokenizer_config.json",
  "generation_config.json",
  "special_tokens_map.json",
  "chat_template.jinja",
];

/**
 * What a model repository holds, from its file list: "transformers" when it has config.json and safetensors weights
 * at its top level (what is read when no GGUF file is configured), else "gguf" when it has a .gguf file, else
 * undefined (neither: e.g. PyTorch .bin weights only, or not a model).
 */
export function detectRepoFormat(fileNames: readonly string[]): "gguf" | "transformers" | undefined {
  const names = new Set(fileNames);
  if (names.has("config.json") && (names.has("model.safetensors") || names.has("model.safetensors.index.json")))
    return "transformers";
  if (fileNames.some((name) => name.toLowerCase().endsWith(".gguf"))) return "gguf";
  return undefined;
}

/**
 * The files to download for a conversion: config.json, the weights, tokenizer.json and/or tokenizer.model, and the
 * optional tokenizer_config.json, generation_config.json, special_tokens_map.json and chat_template.jinja when the
 * repository has them. Sharded weights take two steps: without `indexJson` the list holds
 * `model.safetensors.index.json`; call again with its parsed content to get the shards its weight_map names.
 */
export function transformersFilesToFetch(fileNames: readonly string[], indexJson?: unknown): string[] {
  const names = new Set(fileNames);
  if (!names.has("config.json")) throw new MissingModelFileError("config.json");
  const files = ["config.json"];
  if (names.has("model.safetensors.index.json")) {
    files.push("model.safetensors.index.json");
    if (indexJson !== undefined) {
      for (const shard of shardsOfIndex(indexJson)) {
        if (!names.has(shard)) throw new MissingModelFileError(shard);
        files.push(shard);
      }
    }
  } else if (names.has("model.safetensors")) {
    files.push("model.safetensors");
  } else {
    throw new MissingModelFileError("model.safetensors (or model.safetensors.index.json)");
  }
  const tokenizers = TOKENIZER_FILES.filter((name) => names.has(name));
  if (tokenizers.length === 0) throw new MissingModelFileError("tokenizer.json or tokenizer.model");
  files.push(...tokenizers, ...OPTIONAL_FILES.filter((name) => names.has(name)));
  return files;
}
