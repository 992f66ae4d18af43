/**
 * A small byte-level BPE tokenizer in the Hugging Face `tokenizer.json` format, for fast tests: the 256 byte symbols
 * (GPT-2's byte-to-unicode alphabet), merges learnt by plain BPE from a fixed English/code corpus, and chat special
 * tokens. Its pre-tokenizer is Llama 3's, byte for byte, so a converter can recognise the pre-tokenizer by its regex.
 */

/** Llama 3's pre-tokenizer (Split on its regex, then ByteLevel without a prefix space). */
export const LLAMA3_PRE_TOKENIZER = {
  type: "Sequence",
  pretokenizers: [
    {
      type: "Split",
      pattern: {
        Regex:
          "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      },
      behavior: "Isolated",
      invert: false,
    },
    { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
  ],
} as const;

/** GPT-2's reversible byte -> printable character map (bytes_to_unicode). */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return map;
}

const CORPUS = `The quick brown fox jumps over the lazy dog. Hello world, hello there! function add(a, b) { return a + b; }
const value = await fetch(url); if (value === null) throw new Error("missing"); for (let i = 0; i < 10; i++) {}
Once upon a time there was a model that answered questions in the shortest possible way and the users loved it.
import numpy as np; def main(): print("hello") class Model: pass # comment the and of to in is it that`;

export const SYNTHETIC_SPECIAL_TOKENS = [
  "<|begin_of_text|>",
  "<|end_of_text|>",
  "<|im_start|>",
  "<|im_end|>",
  "<|eot_id|>",
] as const;

const CHATML_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/** tokenizer.json + tokenizer_config.json of the synthetic tokenizer with `merges` learnt merges (default 200). */
export function syntheticTokenizer(merges = 200): TokenizerFiles {
  const alphabet = byteToUnicode();
  const vocab: Record<string, number> = {};
  for (const [id, symbol] of alphabet.entries()) vocab[symbol] = id;
  const encoder = new TextEncoder();
  // Words as the pre-tokenizer would cut them (roughly): a leading space sticks to the word.
  const words = (CORPUS.match(/ ?[A-Za-z]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]+|\s+/g) ?? []).map((word) =>
    [...encoder.encode(word)].map((byte) => alphabet[byte]!),
  );
  const learnt: [string, string][] = [];
  while (learnt.length < merges) {
    const counts = new Map<string, number>();
    for (const word of words) {
      for (let i = 0; i + 1 < word.length; i++) {
        const pair = `${word[i]}\u0000${word[i + 1]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 1);
      }
    }
    let best: string | undefined;
    let bestCount = 1;
    for (const [pair, count] of counts)
      if (count > bestCount || (count === bestCount && best !== undefined && pair < best))
        [best, bestCount] = [pair, count];
    if (best === undefined) break;
    const [left, right] = best.split("\u0000") as [string, string];
    learnt.push([left, right]);
    vocab[left + right] ??= Object.keys(vocab).length;
    for (const word of words) {
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === left && word[i + 1] === right) word.splice(i, 2, left + right);
      }
    }
  }
  const firstSpecial = Object.keys(vocab).length;
  const addedTokens = SYNTHETIC_SPECIAL_TOKENS.map((content, index) => ({
    id: firstSpecial + index,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: LLAMA3_PRE_TOKENIZER,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<|begin_of_text|>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: {
        "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [firstSpecial], tokens: ["<|begin_of_text|>"] },
      },
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab,
      merges: learnt,
    },
  };
  const tokenizerConfig = {
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...token }) => [String(id), token])),
    bos_token: "<|begin_of_text|>",
    eos_token: "<|im_end|>",
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: true,
    model_max_length: 131072,
    tokenizer_class: "PreTrainedTokenizerFast",
  };
  return { tokenizerJson, tokenizerConfig };
}
