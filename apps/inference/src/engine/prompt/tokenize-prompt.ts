import type { LlamaModel, Token } from "node-llama-cpp";

/**
 * Tokenizes a rendered prompt (or a raw completion prompt) exactly as llama-server does: the whole text in one call,
 * special tokens parsed (`<|im_start|>` becomes its id, not characters), SentencePiece's space prefix after every
 * special token done by llama.cpp itself, then BOS in front when the vocabulary asks for it (and EOS at the end when
 * it asks for that). The chat template already dropped its own leading BOS text in that case; a raw prompt that
 * begins with the BOS text keeps its own (llama.cpp would add a second one and warn that this is probably wrong).
 * A chat prompt whose messages hold control-token texts is tokenized by message-text.ts instead.
 */
export function tokenizePrompt(model: LlamaModel, text: string, parseSpecial = true): Token[] {
  return withBosEos(model, model.tokenize(text, parseSpecial));
}

/** A prompt's tokens with BOS in front / EOS at the end when the vocabulary asks for them (in place). */
export function withBosEos(model: LlamaModel, tokens: Token[]): Token[] {
  const { bos, eos } = model.tokens;
  if (bos != null && model.tokens.shouldPrependBosToken && tokens[0] !== bos) tokens.unshift(bos);
  if (eos != null && model.tokens.shouldAppendEosToken) tokens.push(eos);
  return tokens;
}

/** The vocabulary's BOS / EOS tokens as text, as templates see them (`bos_token`, `eos_token`); "" when absent. */
export function specialTokenTexts(model: LlamaModel): {
  bosToken: string;
  eosToken: string;
  addBos: boolean;
  addEos: boolean;
} {
  const text = (token: Token | null) => (token == null ? "" : model.detokenize([token], true));
  return {
    bosToken: text(model.tokens.bos),
    eosToken: text(model.tokens.eos),
    addBos: model.tokens.bos != null && model.tokens.shouldPrependBosToken,
    addEos: model.tokens.eos != null && model.tokens.shouldAppendEosToken,
  };
}
