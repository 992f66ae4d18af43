import {
  llamaSourcePath,
  readRealTokenizer,
  readTokenizerMetadata,
  syntheticTokenizer,
  writeSentencePieceModel,
  type GgufMetadata,
} from "@slm/testkit";
import { describe, expect, it } from "vitest";
import { convertTokenizer } from "./convert-tokenizer.ts";
import { UnsupportedTokenizerError } from "./errors.ts";
import type { GgufValue } from "../formats/index.ts";

const reference = async (name: string) =>
  readTokenizerMetadata(await llamaSourcePath(`models/ggml-vocab-${name}.gguf`));
const text = (value: string | Uint8Array) =>
  typeof value === "string" ? value : new TextDecoder("utf-8", { ignoreBOM: true }).decode(value);

/** Compares the vocabulary entries of our metadata with llama.cpp's, item by item, reporting the first differences. */
function expectSameVocabulary(ours: Record<string, GgufValue>, theirs: GgufMetadata, keys: readonly string[]): void {
  for (const key of keys) {
    const a = ours[key]?.value as ArrayLike<unknown> | undefined;
    const b = theirs[key]?.value as ArrayLike<unknown> | undefined;
    expect([key, a?.length]).toEqual([key, b?.length]);
    const differences: unknown[] = [];
    for (let i = 0; i < b!.length && differences.length < 5; i++) {
      const x = a![i] as string | number | Uint8Array;
      const y = b![i] as string | number | Uint8Array;
      const same = typeof y === "number" ? Math.fround(x as number) === y : text(x as string) === text(y as string);
      if (!same) differences.push([i, x, y]);
    }
    expect([key, differences]).toEqual([key, []]);
  }
}

describe("convertTokenizer against llama.cpp's own converted vocabularies", () => {
  it("Qwen3's tokenizer.json gives llama.cpp's qwen2 vocabulary: tokens, types, merges and pre", async () => {
    const { tokenizerJson, tokenizerConfig } = await readRealTokenizer("qwen3");
    const theirs = await reference("qwen2");
    const { metadata } = convertTokenizer(
      { config: { vocab_size: 151936 }, tokenizerJson, tokenizerConfig },
      { architecture: "qwen3" },
    );
    expect(metadata["tokenizer.ggml.model"]?.value).toBe("gpt2");
    expect(metadata["tokenizer.ggml.pre"]?.value).toBe(theirs["tokenizer.ggml.pre"]!.value);
    const shared = 151646; // the reference (Qwen1.5) has 3 added tokens; Qwen3 added more after them
    const cut = (meta: Record<string, GgufValue> | GgufMetadata, key: string) =>
      ({ ...meta[key]!, value: Array.from(meta[key]!.value as ArrayLike<unknown>).slice(0, shared) }) as GgufValue;
    expectSameVocabulary(
      {
        "tokenizer.ggml.tokens": cut(metadata, "tokenizer.ggml.tokens"),
        "tokenizer.ggml.token_type": cut(metadata, "tokenizer.ggml.token_type"),
        "tokenizer.ggml.merges": metadata["tokenizer.ggml.merges"]!,
      },
      {
        "tokenizer.ggml.tokens": cut(theirs, "tokenizer.ggml.tokens"),
        "tokenizer.ggml.token_type": cut(theirs, "tokenizer.ggml.token_type"),
        "tokenizer.ggml.merges": theirs["tokenizer.ggml.merges"]!,
      } as GgufMetadata,
      ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"],
    );
    expect(metadata["tokenizer.ggml.eos_token_id"]?.value).toBe(151645); // <|im_end|>, Qwen3's eos_token
    expect(metadata["tokenizer.ggml.add_bos_token"]?.value).toBe(false);
    expect(metadata["tokenizer.chat_template"]?.value).toBe(tokenizerConfig["chat_template"]);
  });

  it("Llama 3's tokenizer.json gives llama.cpp's llama-bpe vocabulary (pre from the check-text hash)", async () => {
    const { tokenizerJson, tokenizerConfig } = await readRealTokenizer("llama3");
    const theirs = await reference("llama-bpe");
    // As Meta's repositories ship it today: the post-processor adds <|begin_of_text|>.
    const withBos = {
      ...tokenizerJson,
      post_processor: {
        type: "Sequence",
        processors: [
          { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
          {
            type: "TemplateProcessing",
            single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
            pair: [
              { SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } },
              { Sequence: { id: "A", type_id: 0 } },
              { SpecialToken: { id: "<|begin_of_text|>", type_id: 1 } },
              { Sequence: { id: "B", type_id: 1 } },
            ],
            special_tokens: {
              "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [128000], tokens: ["<|begin_of_text|>"] },
            },
          },
        ],
      },
    };
    const { metadata } = convertTokenizer(
      { config: { vocab_size: 128256 }, tokenizerJson: withBos, tokenizerConfig },
      { architecture: "llama" },
    );
    expect(metadata["tokenizer.ggml.pre"]?.value).toBe("llama-bpe");
    expectSameVocabulary(metadata, theirs, [
      "tokenizer.ggml.tokens",
      "tokenizer.ggml.token_type",
      "tokenizer.ggml.merges",
    ]);
    expect(metadata["tokenizer.ggml.bos_token_id"]?.value).toBe(theirs["tokenizer.ggml.bos_token_id"]!.value);
    expect(metadata["tokenizer.ggml.eos_token_id"]?.value).toBe(theirs["tokenizer.ggml.eos_token_id"]!.value);
    expect(metadata["tokenizer.ggml.add_bos_token"]?.value).toBe(true);
    // The package's older file (no BOS post-processor) hashes like Smaug's tokenizer, as llama.cpp's converter finds.
    const asShipped = convertTokenizer(
      { config: { vocab_size: 128256 }, tokenizerJson, tokenizerConfig },
      { architecture: "llama" },
    );
    expect(asShipped.metadata["tokenizer.ggml.pre"]?.value).toBe("smaug-bpe");
  });

  it("a SentencePiece tokenizer.model built from llama-spm gives llama.cpp's vocabulary back: tokens, scores, types", async () => {
    const theirs = await reference("llama-spm");
    const tokens = theirs["tokenizer.ggml.tokens"]!.value as (string | Uint8Array)[];
    const scores = theirs["tokenizer.ggml.scores"]!.value as number[];
    const types = theirs["tokenizer.ggml.token_type"]!.value as number[];
    const tokenizerModel = writeSentencePieceModel(
      tokens.map((piece, i) => ({ piece, score: scores[i]!, type: types[i]! })),
    );
    const special = (id: number, content: string) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    const { metadata } = convertTokenizer(
      {
        config: { vocab_size: 32000, bos_token_id: 1, eos_token_id: 2 },
        tokenizerModel,
        // Llama 2's repository also ships a tokenizer.json, where SpecialVocab finds <unk>.
        tokenizerJson: {
          added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
          model: { type: "BPE", vocab: {}, merges: [] },
        },
        tokenizerConfig: {
          add_bos_token: true,
          add_eos_token: false,
          bos_token: "<s>",
          eos_token: "</s>",
          unk_token: "<unk>",
        },
      },
      { architecture: "llama" },
    );
    expectSameVocabulary(metadata, theirs, [
      "tokenizer.ggml.tokens",
      "tokenizer.ggml.scores",
      "tokenizer.ggml.token_type",
    ]);
    for (const key of [
      "tokenizer.ggml.model",
      "tokenizer.ggml.pre",
      "tokenizer.ggml.bos_token_id",
      "tokenizer.ggml.eos_token_id",
      "tokenizer.ggml.unknown_token_id",
      "tokenizer.ggml.add_bos_token",
      "tokenizer.ggml.add_eos_token",
    ]) {
      expect([key, metadata[key]?.value]).toEqual([key, theirs[key]!.value]);
    }
  });
});

describe("convertTokenizer: special tokens, templates and refusals", () => {
  const { tokenizerJson, tokenizerConfig } = syntheticTokenizer();
  const idOf = (content: string) =>
    (tokenizerJson["added_tokens"] as { id: number; content: string }[]).find((token) => token.content === content)!.id;

  it("takes the chat template from chat_template.jinja when tokenizer_config has none, and pads the vocabulary", () => {
    const { chat_template: template, ...withoutTemplate } = tokenizerConfig;
    const size = idOf("<|eot_id|>") + 1;
    const { metadata, tokenCount } = convertTokenizer(
      {
        config: { vocab_size: size + 3 },
        tokenizerJson,
        tokenizerConfig: withoutTemplate,
        chatTemplateJinja: "{{ messages }}",
      },
      { architecture: "llama" },
    );
    expect(metadata["tokenizer.chat_template"]?.value).toBe("{{ messages }}");
    expect(tokenCount).toBe(size + 3);
    expect((metadata["tokenizer.ggml.tokens"]!.value as string[]).slice(-3)).toEqual([
      `[PAD${size}]`,
      `[PAD${size + 1}]`,
      `[PAD${size + 2}]`,
    ]);
    expect(Array.from(metadata["tokenizer.ggml.token_type"]!.value as number[]).slice(-4)).toEqual([3, 5, 5, 5]); // control, then unused
    // tokenizer_config's own template wins over the file, as in gguf-py.
    const both = convertTokenizer(
      { config: {}, tokenizerJson, tokenizerConfig, chatTemplateJinja: "{{ other }}" },
      { architecture: "llama" },
    );
    expect(both.metadata["tokenizer.chat_template"]?.value).toBe(template);
  });

  it("reads bos/eos from tokenizer_config, add_bos from the post-processor, eos from generation_config as a last resort", () => {
    const { metadata } = convertTokenizer({ config: {}, tokenizerJson, tokenizerConfig }, { architecture: "llama" });
    expect(metadata["tokenizer.ggml.bos_token_id"]?.value).toBe(idOf("<|begin_of_text|>"));
    expect(metadata["tokenizer.ggml.eos_token_id"]?.value).toBe(idOf("<|im_end|>"));
    expect(metadata["tokenizer.ggml.add_bos_token"]?.value).toBe(true);
    const { eos_token: _, ...noEos } = tokenizerConfig;
    const fallback = convertTokenizer(
      {
        config: {},
        tokenizerJson,
        tokenizerConfig: noEos,
        generationConfig: { eos_token_id: [idOf("<|eot_id|>"), 1] },
      },
      { architecture: "llama" },
    );
    expect(fallback.metadata["tokenizer.ggml.eos_token_id"]?.value).toBe(idOf("<|eot_id|>"));
    const fromConfig = convertTokenizer(
      { config: { eos_token_id: 7 }, tokenizerJson, tokenizerConfig: noEos, generationConfig: { eos_token_id: 9 } },
      { architecture: "llama" },
    );
    expect(fromConfig.metadata["tokenizer.ggml.eos_token_id"]?.value).toBe(7);
  });

  it("refuses Gemma 3's tokenizer.json without its tokenizer.model, as llama.cpp's converter does", async () => {
    const gemma = await readRealTokenizer("gemma3");
    expect(() => convertTokenizer({ config: {}, ...gemma }, { architecture: "gemma3" })).toThrow(
      UnsupportedTokenizerError,
    );
  });

  it("refuses a pre-tokenizer llama.cpp does not know, and SentencePiece-style BPE without tokenizer.model", () => {
    const otherSplit = {
      ...tokenizerJson,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    };
    expect(() =>
      convertTokenizer({ config: {}, tokenizerJson: otherSplit, tokenizerConfig }, { architecture: "llama" }),
    ).toThrow(UnsupportedTokenizerError);
    const byteFallback = { ...tokenizerJson, model: { ...(tokenizerJson["model"] as object), byte_fallback: true } };
    expect(() =>
      convertTokenizer({ config: {}, tokenizerJson: byteFallback, tokenizerConfig }, { architecture: "llama" }),
    ).toThrow(/tokenizer\.model is needed/);
  });
});
