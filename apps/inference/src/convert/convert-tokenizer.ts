import { Tokenizer } from "@huggingface/tokenizers";
import { createHash } from "node:crypto";
import { InvalidTokenizerError, MissingModelFileError, UnsupportedTokenizerError } from "./errors.ts";
import type { GgufValue } from "../formats/index.ts";
import { PRE_TOKENIZER_BY_HASH, PRE_TOKENIZER_CHECK_TEXT } from "./pre-tokenizer-hashes.ts";
import { readSentencePieceModel, SentencePieceType } from "./read-sentencepiece-model.ts";

/**
 * The `tokenizer.*` metadata llama.cpp's convert_hf_to_gguf.py writes, from the model's tokenizer files:
 * - `tokenizer.model` present: SentencePiece (`_set_vocab_sentencepiece`): pieces, scores and types, overridden by
 *   tokenizer_config's added_tokens_decoder, model `llama`, pre `default`;
 * - otherwise byte-level BPE from `tokenizer.json` (`get_vocab_base` + `_set_vocab_gpt2`): tokens by id (padded to
 *   vocab_size with `[PAD{i}]`), types (added tokens CONTROL when special or looking special, else USER_DEFINED),
 *   merges, and the pre-tokenizer chosen as llama.cpp chooses it: the sha256 of the token ids of a fixed check text,
 *   encoded here by @huggingface/tokenizers as Python's AutoTokenizer does, looked up in llama.cpp's table;
 * - then gguf-py's SpecialVocab: special token ids, add_bos/add_eos (tokenizer_config, TemplateProcessing), the chat
 *   template (tokenizer_config, else chat_template.jinja).
 */
export interface TokenizerInputs {
  /** config.json. */
  config: Record<string, unknown>;
  tokenizerJson?: Record<string, unknown>;
  tokenizerModel?: Uint8Array;
  tokenizerConfig?: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  chatTemplateJinja?: string;
}

export interface ConvertedTokenizer {
  metadata: Record<string, GgufValue>;
  /** Number of tokens written. */
  tokenCount: number;
}

const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/**
 * Pre-tokenizers recognised by their Split regex when the check-text hash is not in llama.cpp's table — a tokenizer
 * whose vocabulary was changed (fine-tuned, extended) tokenizes the check text differently while splitting text
 * exactly as the original. llama.cpp itself refuses such tokenizers; the regex is the part `pre` stands for.
 */
const PRE_TOKENIZER_BY_REGEX: ReadonlyMap<string, string> = new Map([
  [
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "llama-bpe",
  ],
  [
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "qwen2",
  ],
]);

export function convertTokenizer(inputs: TokenizerInputs, options: { architecture: string }): ConvertedTokenizer {
  const metadata: Record<string, GgufValue> = {};
  const tokenizerConfig = inputs.tokenizerConfig;
  // LlamaModel.set_vocab: add_prefix_space from tokenizer_config; Gemma3 with tokenizer.model: no space prefix.
  if (options.architecture === "llama" && typeof tokenizerConfig?.["add_prefix_space"] === "boolean") {
    metadata["tokenizer.ggml.add_space_prefix"] = { type: "bool", value: tokenizerConfig["add_prefix_space"] };
  }
  let tokenCount: number;
  let nVocab: number | undefined;
  if (inputs.tokenizerModel) {
    const { tokens, scores, types } = sentencePieceVocab(inputs);
    metadata["tokenizer.ggml.model"] = { type: "string", value: "llama" };
    metadata["tokenizer.ggml.pre"] = { type: "string", value: "default" };
    metadata["tokenizer.ggml.tokens"] = { type: "string[]", value: tokens };
    metadata["tokenizer.ggml.scores"] = { type: "float32[]", value: scores };
    metadata["tokenizer.ggml.token_type"] = { type: "int32[]", value: types };
    tokenCount = tokens.length;
    nVocab = tokens.length;
  } else if (inputs.tokenizerJson) {
    const { tokens, types, pre } = bpeVocab(inputs);
    metadata["tokenizer.ggml.model"] = { type: "string", value: "gpt2" };
    metadata["tokenizer.ggml.pre"] = { type: "string", value: pre };
    metadata["tokenizer.ggml.tokens"] = { type: "string[]", value: tokens };
    metadata["tokenizer.ggml.token_type"] = { type: "int32[]", value: types };
    metadata["tokenizer.ggml.merges"] = { type: "string[]", value: merges(inputs.tokenizerJson) };
    tokenCount = tokens.length;
  } else {
    throw new MissingModelFileError("tokenizer.json or tokenizer.model");
  }
  Object.assign(metadata, specialVocab(inputs, nVocab));
  if (options.architecture === "gemma3" && inputs.tokenizerModel)
    metadata["tokenizer.ggml.add_space_prefix"] = { type: "bool", value: false };
  return { metadata, tokenCount };
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
  normalized?: boolean;
}

function addedTokens(json: Record<string, unknown> | undefined): AddedToken[] {
  const list = json?.["added_tokens"];
  if (list === undefined) return [];
  if (
    !Array.isArray(list) ||
    !list.every((token) => typeof token?.id === "number" && typeof token?.content === "string")
  ) {
    throw new InvalidTokenizerError("tokenizer.json", "added_tokens is not a list of {id, content}");
  }
  return list as AddedToken[];
}

/** ModelBase.does_token_look_special. */
function looksSpecial(token: string): boolean {
  return (
    ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(token) ||
    (token.startsWith("<|") && token.endsWith("|>")) ||
    (token.startsWith("<｜") && token.endsWith("｜>")) ||
    (token.startsWith("<unused") && token.endsWith(">"))
  );
}

function bpeVocab(inputs: TokenizerInputs): { tokens: string[]; types: number[]; pre: string } {
  const json = inputs.tokenizerJson!;
  const model = json["model"] as { type?: string; vocab?: Record<string, number>; byte_fallback?: boolean } | undefined;
  if (model?.type !== "BPE")
    throw new UnsupportedTokenizerError(
      `tokenizer.json holds a ${model?.type ?? "missing"} model; only byte-level BPE (or a tokenizer.model) is supported`,
    );
  if (model.byte_fallback) {
    throw new UnsupportedTokenizerError(
      "tokenizer.json is a SentencePiece-style BPE (byte_fallback); the repository's tokenizer.model is needed",
    );
  }
  if (typeof model.vocab !== "object" || model.vocab === null)
    throw new InvalidTokenizerError("tokenizer.json", "model.vocab is missing");
  const added = addedTokens(json);
  const byId = new Map<number, string>();
  for (const [token, id] of Object.entries(model.vocab)) byId.set(id, token);
  for (const token of added) byId.set(token.id, token.content);
  let maxId = -1;
  for (const id of byId.keys()) maxId = Math.max(maxId, id);
  const configured = inputs.config["vocab_size"];
  const vocabSize = typeof configured === "number" ? configured : byId.size;
  if (maxId >= vocabSize)
    throw new InvalidTokenizerError(
      "tokenizer.json",
      `token id ${maxId} is beyond config.json's vocab_size ${vocabSize}`,
    );

  const addedById = new Map(added.map((token) => [token.id, token]));
  const tokens: string[] = new Array(vocabSize);
  const types: number[] = new Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    const token = byId.get(id);
    if (token === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = TokenType.unused;
      continue;
    }
    const addedToken = addedById.get(id);
    if (addedToken) {
      // llama.cpp re-encodes non-normalized added tokens through the tokenizer (encode then decode), which gives the
      // token back for byte-level BPE.
      if (addedToken.special || looksSpecial(token)) {
        tokens[id] = token;
        types[id] = TokenType.control;
      } else {
        tokens[id] = token.replaceAll("\u2581", " ");
        types[id] = TokenType.userDefined;
      }
    } else {
      tokens[id] = token;
      types[id] = TokenType.normal;
    }
  }
  return { tokens, types, pre: preTokenizer(inputs) };
}

/** get_vocab_base_pre: sha256 of Python's str() of the check text's token ids, then llama.cpp's table. */
export function preTokenizerHash(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown> = {},
): string {
  let ids: number[];
  try {
    ids = new Tokenizer(tokenizerJson, tokenizerConfig).encode(PRE_TOKENIZER_CHECK_TEXT).ids;
  } catch {
    throw new InvalidTokenizerError("tokenizer.json", "the reference encoder cannot load it");
  }
  return createHash("sha256")
    .update(`[${ids.join(", ")}]`)
    .digest("hex");
}

function preTokenizer(inputs: TokenizerInputs): string {
  const hash = preTokenizerHash(inputs.tokenizerJson!, inputs.tokenizerConfig);
  const known = PRE_TOKENIZER_BY_HASH.get(hash);
  if (known) return known;
  const regex = splitRegex(inputs.tokenizerJson!["pre_tokenizer"]);
  const byRegex = regex === undefined ? undefined : PRE_TOKENIZER_BY_REGEX.get(regex);
  if (byRegex) return byRegex;
  throw new UnsupportedTokenizerError(
    `its BPE pre-tokenizer is not one llama.cpp recognises (check-text hash ${hash.slice(0, 16)}…)`,
  );
}

/** The regex of a `Sequence[Split(Regex, Isolated), ByteLevel(no prefix space, no regex)]` pre-tokenizer. */
function splitRegex(pre: unknown): string | undefined {
  const sequence = pre as { type?: string; pretokenizers?: Record<string, unknown>[] } | null;
  if (sequence?.type !== "Sequence" || sequence.pretokenizers?.length !== 2) return undefined;
  const [split, byteLevel] = sequence.pretokenizers as [Record<string, unknown>, Record<string, unknown>];
  const pattern = split["pattern"] as { Regex?: unknown } | undefined;
  if (
    split["type"] !== "Split" ||
    split["behavior"] !== "Isolated" ||
    split["invert"] !== false ||
    typeof pattern?.Regex !== "string"
  )
    return undefined;
  if (byteLevel["type"] !== "ByteLevel" || byteLevel["add_prefix_space"] !== false || byteLevel["use_regex"] !== false)
    return undefined;
  return pattern.Regex;
}

/** SpecialVocab merges: "a b" strings as they are; [a, b] pairs joined, a space inside a part written as U+0120. */
function merges(json: Record<string, unknown>): string[] {
  const list = (json["model"] as { merges?: unknown }).merges;
  if (!Array.isArray(list) || list.length === 0) return [];
  if (typeof list[0] === "string") return list as string[];
  if (Array.isArray(list[0]) && list[0].length === 2 && typeof list[0][0] === "string") {
    return (list as [string, string][]).map((pair) => pair.map((part) => part.replaceAll(" ", "\u0120")).join(" "));
  }
  throw new InvalidTokenizerError("tokenizer.json", "model.merges is in an unknown format");
}

function sentencePieceVocab(inputs: TokenizerInputs): { tokens: string[]; scores: number[]; types: number[] } {
  const pieces = readSentencePieceModel(inputs.tokenizerModel!);
  const configured = inputs.config["vocab_size"];
  const vocabSize = typeof configured === "number" ? configured : pieces.length;
  const tokens = Array.from({ length: vocabSize }, (_, i) => `[PAD${i}]`);
  const scores = new Array<number>(vocabSize).fill(-10000);
  const types = new Array<number>(vocabSize).fill(TokenType.unused);
  for (let id = 0; id < Math.min(pieces.length, vocabSize); id++) {
    const { piece, score, type } = pieces[id]!;
    tokens[id] = piece;
    scores[id] = score;
    // SentencePieceProcessor's IsUnknown / IsControl / IsUnused / IsByte; anything else (USER_DEFINED too) is NORMAL.
    types[id] =
      type === SentencePieceType.unknown
        ? TokenType.unknown
        : type === SentencePieceType.control
          ? TokenType.control
          : type === SentencePieceType.unused
            ? TokenType.unused
            : type === SentencePieceType.byte
              ? TokenType.byte
              : TokenType.normal;
  }
  const decoder = inputs.tokenizerConfig?.["added_tokens_decoder"];
  if (decoder && typeof decoder === "object") {
    for (const [key, data] of Object.entries(decoder as Record<string, { content?: unknown; special?: unknown }>)) {
      const id = Number(key);
      if (!Number.isInteger(id) || id >= vocabSize || typeof data?.content !== "string") continue;
      let token = data.content;
      if (data.special || looksSpecial(token)) types[id] = TokenType.control;
      else {
        token = token.replaceAll("\u2581", " ");
        types[id] = TokenType.userDefined;
      }
      scores[id] = -1000;
      tokens[id] = token;
    }
  }
  return { tokens, scores, types };
}

const ID_KEYS: Record<string, string> = {
  bos: "tokenizer.ggml.bos_token_id",
  eos: "tokenizer.ggml.eos_token_id",
  unk: "tokenizer.ggml.unknown_token_id",
  sep: "tokenizer.ggml.seperator_token_id",
  pad: "tokenizer.ggml.padding_token_id",
  cls: "tokenizer.ggml.cls_token_id",
  mask: "tokenizer.ggml.mask_token_id",
  eot: "tokenizer.ggml.eot_token_id",
  eom: "tokenizer.ggml.eom_token_id",
};
const ADD_KEYS: Record<string, string> = {
  bos: "tokenizer.ggml.add_bos_token",
  eos: "tokenizer.ggml.add_eos_token",
  sep: "tokenizer.ggml.add_sep_token",
};

/** gguf-py's SpecialVocab (tokenizer.json + tokenizer_config.json, then config.json), without merges. */
function specialVocab(inputs: TokenizerInputs, nVocab: number | undefined): Record<string, GgufValue> {
  const types: string[] = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"];
  const ids = new Map<string, number>();
  const add = new Map<string, boolean>();
  const setId = (type: string, id: unknown) => {
    if (typeof id !== "number" || !Number.isInteger(id)) return;
    if (id < 0) throw new InvalidTokenizerError("tokenizer_config.json", `invalid id ${id} for the ${type} token`);
    if ((nVocab === undefined || id < nVocab) && !ids.has(type)) ids.set(type, id);
  };
  const json = inputs.tokenizerJson;
  const config = inputs.tokenizerConfig ? { ...inputs.tokenizerConfig } : undefined;
  let chatTemplate: string | undefined;
  if (json) {
    const added = addedTokens(json);
    const content = (entry: unknown) =>
      typeof entry === "string"
        ? entry
        : typeof (entry as { content?: unknown } | null)?.content === "string"
          ? (entry as { content: string }).content
          : undefined;
    let bos = config?.["bos_token"];
    const cls = config?.["cls_token"];
    let eos = config?.["eos_token"];
    const sep = config?.["sep_token"];
    if (!bos && cls && config) config["bos_token"] = bos = cls;
    if (!eos && sep && config) config["eos_token"] = eos = sep;
    const post = json["post_processor"] as { type?: string; processors?: unknown[] } | null | undefined;
    for (const processor of (post ? (post.processors ?? [post]) : []) as {
      type?: string;
      single?: Record<string, { id?: string }>[];
    }[]) {
      if (processor.type === "RobertaProcessing") {
        add.set("bos", true).set("eos", true).set("sep", true);
        continue;
      }
      if (processor.type !== "TemplateProcessing") continue;
      const single = processor.single ?? [];
      if (single.length > 1) {
        const first = single[0]?.["SpecialToken"]?.id;
        if (first) {
          if (!config) bos = first;
          else if (first !== content(bos) && first !== content(cls)) {
            if (!bos) config["bos_token"] = bos = first;
          }
          add.set("bos", first === content(bos) || first === content(cls));
        }
        const last = single[single.length - 1]?.["SpecialToken"]?.id;
        if (last) {
          if (!config) eos = last;
          else if (last !== content(eos)) {
            if (!types.includes("eot")) {
              types.push("eot");
              config["eot_token"] = eos;
            } else if (!types.includes("eom")) {
              types.push("eom");
              config["eom_token"] = eos;
            }
            config["eos_token"] = eos = last;
          }
          add.set("eos", last === content(eos));
        }
      }
    }
    if (config) {
      const template = config["chat_template"];
      chatTemplate =
        typeof template === "string" ? template : template === undefined ? inputs.chatTemplateJinja : undefined;
      for (const type of types) {
        const addEntry = config[`add_${type}_token`];
        if (typeof addEntry === "boolean") add.set(type, addEntry);
        const wanted = content(config[`${type}_token`]);
        if (wanted === undefined) continue;
        setId(type, added.find((token) => token.content === wanted)?.id);
      }
    }
  } else if (config) {
    // SpecialVocab reads tokenizer_config only alongside a tokenizer.json; the chat template and the add_* flags too.
    const template = config["chat_template"];
    chatTemplate =
      typeof template === "string" ? template : template === undefined ? inputs.chatTemplateJinja : undefined;
    for (const type of types) {
      const addEntry = config[`add_${type}_token`];
      if (typeof addEntry === "boolean") add.set(type, addEntry);
    }
  }
  for (const type of types) {
    let id = inputs.config[`${type}_token_id`];
    const text = inputs.config["text_config"] as Record<string, unknown> | undefined;
    if (id === undefined && text) id = text[`${type}_token_id`];
    setId(type, id);
  }
  // Our addition: generation_config.json's eos_token_id (the first, when a list) when nothing else named one.
  const generationEos = inputs.generationConfig?.["eos_token_id"];
  setId("eos", Array.isArray(generationEos) ? generationEos[0] : generationEos);

  const out: Record<string, GgufValue> = {};
  for (const [type, id] of ids) if (ID_KEYS[type]) out[ID_KEYS[type]] = { type: "uint32", value: id };
  for (const [type, value] of add) if (ADD_KEYS[type]) out[ADD_KEYS[type]] = { type: "bool", value };
  if (chatTemplate !== undefined) out["tokenizer.chat_template"] = { type: "string", value: chatTemplate };
  return out;
}
