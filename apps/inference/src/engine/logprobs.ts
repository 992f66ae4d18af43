import type { LlamaContext, LlamaModel, Token } from "node-llama-cpp";

/** One candidate token's log probability. */
export interface TokenCandidate {
  id: number;
  token: string;
  /** The token's UTF-8 bytes (of its text as node-llama-cpp decodes it). */
  bytes: number[];
  logprob: number;
}

/** A generated token's log probability and, when asked, the most likely alternatives at its position. */
export interface TokenLogprob extends TokenCandidate {
  top: TokenCandidate[];
}

/** What OpenAI and llama-server send for a probability of 0 (JSON has no -Infinity). */
const LOWEST_LOGPROB = -9999;
const encoder = new TextEncoder();
const REPLACEMENT_CHAR = "\uFFFD";

/**
 * A token's bytes from its vocabulary entry, as llama.cpp turns it into text: SentencePiece byte tokens `<0xNN>`
 * and `▁` for a space; byte-level BPE through GPT-2's byte-to-character table, reversed. node-llama-cpp's detokenizer
 * returns JavaScript strings, where a token holding part of a character is lost to U+FFFD; the entry's text comes
 * from its internal `getTokenString` (llama_vocab_get_text). Undefined when it is not there or the entry is not
 * one of these forms.
 */
function vocabularyBytes(model: LlamaModel, token: Token): number[] | undefined {
  const text = (
    model as unknown as { _model?: { getTokenString?: (token: number) => string | undefined } }
  )._model?.getTokenString?.(token);
  if (text === undefined) return undefined;
  if (model.vocabularyType === "spm") {
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
    return byte ? [parseInt(byte[1]!, 16)] : [...encoder.encode(text.replaceAll("\u2581", " "))];
  }
  if (model.vocabularyType !== "bpe") return undefined;
  const bytes: number[] = [];
  for (const char of text) {
    const byte = BYTE_OF_CHAR.get(char);
    if (byte === undefined) return undefined;
    bytes.push(byte);
  }
  return bytes;
}

/** GPT-2's bytes_to_unicode, reversed: printable bytes stand for themselves, the others for U+0100 onwards. */
const BYTE_OF_CHAR: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  let next = 256;
  for (let byte = 0; byte < 256; byte++) {
    const printable =
      (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    map.set(String.fromCodePoint(printable ? byte : next++), byte);
  }
  return map;
})();

/**
 * Turns the next-token distribution node-llama-cpp reports with a sampled token (`evaluateWithMetadata` with
 * `probabilities: true`: a Map from token to probability, most likely first) into OpenAI's logprobs, from the
 * model's own distribution (see `reportModelProbabilities`). Only used when a request asks for logprobs.
 */
export class LogprobCapture {
  private readonly texts = new Map<Token, { token: string; bytes: number[] }>();
  private pending: TokenLogprob[] = [];
  private anchor: Token[] | undefined;
  /** Every entry handed out with text, in order. */
  readonly emitted: TokenLogprob[] = [];

  private readonly model: LlamaModel;

  constructor(
    context: LlamaContext,
    /** Alternatives per token (0 to 20). */
    private readonly top: number,
  ) {
    this.model = context.model;
    reportModelProbabilities(context);
  }

  /** Records the sampled token's entry; `probabilities` as node-llama-cpp yields them (absent: no entry). */
  push(token: Token, probabilities: ReadonlyMap<Token, number> | undefined): void {
    if (!probabilities) return;
    const top: TokenCandidate[] = [];
    if (this.top > 0) {
      for (const [id, p] of probabilities) {
        top.push(this.candidate(id, p));
        if (top.length >= this.top) break;
      }
    }
    this.pending.push({ ...this.candidate(token, probabilities.get(token) ?? 0), top });
  }

  /** The entries of the tokens recorded since the last call: they go out with the text being emitted. */
  take(): TokenLogprob[] {
    const taken = this.pending;
    this.pending = [];
    this.emitted.push(...taken);
    return taken;
  }

  private candidate(id: Token, p: number): TokenCandidate {
    let text = this.texts.get(id);
    if (!text) {
      // After a plain token, so that a vocabulary that drops a leading space at the start of a text keeps it.
      this.anchor ??= this.model.tokenize("a", false).slice(0, 1);
      const token = this.model.detokenize([id], true, this.anchor);
      // Part of a multi-byte character decodes to U+FFFD: its bytes come from the vocabulary instead.
      const bytes = (token.includes(REPLACEMENT_CHAR) ? vocabularyBytes(this.model, id) : undefined) ?? [
        ...encoder.encode(token),
      ];
      text = { token, bytes };
      this.texts.set(id, text);
    }
    return { id, token: text.token, bytes: text.bytes, logprob: p > 0 ? Math.log(p) : LOWEST_LOGPROB };
  }
}

/** node-llama-cpp 3.22.1 internals this file relies on (all marked @internal there). */
interface AddonSampler {
  applyConfig(config: Record<string, unknown>): void;
  dispose(): void;
}
interface AddonContext {
  sampleToken(batchLogitIndex: number, sampler: AddonSampler, ...options: unknown[]): Promise<unknown>;
}
interface ContextInternals {
  _ctx?: AddonContext;
  _llama?: { _bindings?: { AddonSampler?: new (model: unknown) => AddonSampler } };
  model: LlamaModel & { _model?: unknown };
}

const reporting = new WeakSet<object>();
/** The most alternatives a request may ask for (OpenAI's top_logprobs limit). */
const MAX_TOP_LOGPROBS = 20;

/**
 * Probabilities as node-llama-cpp's `probabilities` (flat token, value pairs, most likely first) from raw logits
 * (flat pairs: the top tokens, most likely first, then the sampled one) and the sum of exp(logit - max logit) over
 * the vocabulary: p = exp(logit - max) / sum, the softmax llama-server computes.
 */
function distributionOf(logits: readonly number[] | undefined, total: number | undefined): number[] | undefined {
  if (!logits || logits.length < 2 || !total) return undefined;
  const max = logits[1]!;
  const seen = new Set<number>();
  const pairs: number[] = [];
  for (let i = 0; i + 1 < logits.length; i += 2) {
    const id = logits[i]!;
    if (seen.has(id)) continue;
    seen.add(id);
    pairs.push(id, Math.exp(logits[i + 1]! - max) / total);
  }
  return pairs;
}

/**
 * Makes the distribution reported with a sampled token the model's own (softmax of the raw logits over the whole
 * vocabulary, as llama-server reports logprobs by default and as OpenAI means them), whatever the request's sampling.
 * node-llama-cpp computes the distribution it reports from the candidates its sampler chain left: truncated by
 * top_k/top_p/min_p, scaled by the temperature, shifted by logit_bias and penalties, masked by a grammar; it has no
 * option for the raw one. So, for this context, a sample that asks for probabilities (only LogprobCapture's requests
 * do) is done twice on the same logits: by the request's own sampler for the token, exactly as without logprobs (same
 * chain, same grammar path, same seed sequence), then by a greedy sampler with no bias, penalties or grammar (which
 * leaves the logits as they are) asked for the raw logits of the top 20 tokens and the sampled one, and the softmax's
 * normaliser over the whole vocabulary. This wraps node-llama-cpp's internal native
 * `sampleToken`; when the internals are not there (another version) nothing is wrapped and the reported
 * distribution is the chain's, which equals the model's for greedy decoding. Returns whether it is wrapped.
 */
export function reportModelProbabilities(context: LlamaContext): boolean {
  const internals = context as unknown as ContextInternals;
  const addon = internals._ctx;
  const Sampler = internals._llama?._bindings?.AddonSampler;
  const nativeModel = internals.model._model;
  if (!addon || typeof addon.sampleToken !== "function" || !Sampler || nativeModel === undefined) return false;
  if (reporting.has(addon)) return true;
  const original = addon.sampleToken;
  const sampleToken: AddonContext["sampleToken"] = async (batchLogitIndex, sampler, ...options) => {
    const [probabilities, confidence, ...rest] = options;
    if (probabilities !== true || confidence === true || rest.length > 0)
      return original.call(addon, batchLogitIndex, sampler, ...options);
    // The request's token first, as without logprobs; then, from the same logits, the raw logits of the top tokens
    // and of that token, and the softmax's normaliser: a few numbers instead of the whole vocabulary.
    const token = await original.call(addon, batchLogitIndex, sampler);
    if (typeof token !== "number" || token === -1) return token;
    const greedy = new Sampler(nativeModel);
    try {
      greedy.applyConfig({ temperature: 0, topK: 0, topP: 1, minP: 0, seed: 0 });
      const filter = [[token], false, false, false, MAX_TOP_LOGPROBS];
      const result = (await original.call(addon, batchLogitIndex, greedy, false, false, filter, true)) as unknown[];
      return [token, distributionOf(result[3] as number[] | undefined, result[4] as number | undefined)];
    } finally {
      greedy.dispose();
    }
  };
  // The native method is a read-only property of the prototype: the wrapper is defined on the instance.
  Object.defineProperty(addon, "sampleToken", { value: sampleToken, configurable: true, writable: true });
  reporting.add(addon);
  return true;
}
