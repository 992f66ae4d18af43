/**
 * A small SentencePiece-style vocabulary in the layout of the original LLaMA
 * tokenizer (GGUF `tokenizer.ggml.model = "llama"`, llama.cpp's SPM tokenizer).
 */

/** Token types as stored in `tokenizer.ggml.token_type` (llama.cpp's `llama_token_type`). */
export const TokenType = {
  normal: 1,
  unknown: 2,
  control: 3,
  byte: 6,
} as const;

export const UNK_TOKEN_ID = 0;
export const BOS_TOKEN_ID = 1;
export const EOS_TOKEN_ID = 2;

/** SentencePiece marks word starts with U+2581; llama.cpp maps spaces to it before tokenizing. */
const WORD_START = "\u2581";

// Common English words. Each is added (lower-case and capitalised) together
// with all of its substrings, see buildLlamaVocab.
const WORDS = [
  "the",
  "be",
  "to",
  "of",
  "and",
  "a",
  "in",
  "that",
  "have",
  "I",
  "it",
  "for",
  "not",
  "on",
  "with",
  "he",
  "as",
  "you",
  "do",
  "at",
  "this",
  "but",
  "his",
  "by",
  "from",
  "they",
  "we",
  "say",
  "her",
  "she",
  "or",
  "an",
  "will",
  "my",
  "one",
  "all",
  "would",
  "there",
  "their",
  "what",
  "so",
  "up",
  "out",
  "if",
  "about",
  "who",
  "get",
  "which",
  "go",
  "me",
  "is",
  "are",
  "was",
  "were",
  "can",
  "yes",
  "no",
  "how",
  "why",
  "when",
  "where",
  "hello",
  "hi",
  "world",
  "model",
  "test",
  "text",
  "token",
  "chat",
  "user",
  "answer",
  "question",
  "please",
  "thanks",
  "good",
  "time",
  "day",
  "make",
  "like",
  "know",
  "think",
  "see",
  "come",
  "look",
  "use",
  "find",
  "give",
  "tell",
  "work",
];

export interface LlamaVocab {
  tokens: string[];
  /** SentencePiece scores (log-probability-like); higher merges first. */
  scores: Float32Array;
  tokenTypes: Int32Array;
}

/**
 * Builds the vocabulary: `<unk>`, `<s>`, `</s>`, the 256 byte-fallback tokens
 * `<0x00>`..`<0xFF>`, normal tokens, then `extraTokens` as CONTROL tokens
 * (e.g. `<|im_start|>` for ChatML). Scores are non-increasing.
 *
 * llama.cpp's SPM tokenizer starts from single characters and repeatedly merges
 * the adjacent pair with the best score *only if the concatenation is itself a
 * token*, so a word is reachable only if its intermediate pieces exist. Adding
 * every substring of each word guarantees that any merge order ends at the whole
 * word. Characters without a token fall back to byte tokens.
 */
export function buildLlamaVocab(extraTokens: readonly string[] = []): LlamaVocab {
  const normal = new Set<string>([WORD_START]);
  for (let code = 0x21; code <= 0x7e; code++) normal.add(String.fromCharCode(code));
  for (let code = 0x21; code <= 0x7e; code++) normal.add(WORD_START + String.fromCharCode(code));
  for (const word of WORDS) {
    for (const variant of new Set([word, word[0]!.toUpperCase() + word.slice(1)])) {
      addSubstrings(normal, WORD_START + variant);
    }
  }

  const tokens = ["<unk>", "<s>", "</s>"];
  const types: number[] = [TokenType.unknown, TokenType.control, TokenType.control];
  for (let byte = 0; byte < 256; byte++) {
    // llama.cpp looks byte tokens up by exactly this spelling: upper-case, two hex digits.
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(TokenType.byte);
  }
  const firstNormal = tokens.length;
  for (const token of normal) {
    tokens.push(token);
    types.push(TokenType.normal);
  }
  for (const token of extraTokens) {
    // llama.cpp aborts the process (GGML_ASSERT) on duplicate token texts.
    if (token === "" || tokens.includes(token)) {
      throw new Error(`extra token ${JSON.stringify(token)} is empty or already in the vocabulary`);
    }
    tokens.push(token);
    types.push(TokenType.control);
  }

  // Like real SentencePiece vocabs: special and byte tokens score 0, the
  // following tokens get decreasing negative scores.
  const scores = new Float32Array(tokens.length);
  for (let id = firstNormal; id < tokens.length; id++) scores[id] = -(id - firstNormal + 1);

  return { tokens, scores, tokenTypes: Int32Array.from(types) };
}

/** Adds every substring of `text` with at least two characters. */
function addSubstrings(into: Set<string>, text: string): void {
  for (let start = 0; start < text.length - 1; start++) {
    for (let end = start + 2; end <= text.length; end++) into.add(text.slice(start, end));
  }
}
