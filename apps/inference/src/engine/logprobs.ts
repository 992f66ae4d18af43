import type { LlamaModel, Token } from "node-llama-cpp";

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

/**
 * Turns the next-token distribution node-llama-cpp reports with a sampled token (`evaluateWithMetadata` with
 * `probabilities: true`: a Map from token to probability, most likely first) into OpenAI's logprobs. node-llama-cpp
 * 3.22.1 computes that distribution from the candidates its sampler chain left (it exposes no other), so it is the
 * model's own distribution (llama-server's default, `post_sampling_probs: false`) whenever the chain does not change
 * the logits: greedy decoding, and temperature 1 without top_k/top_p/min_p, logit_bias, penalties or a grammar.
 * Otherwise it is the distribution the token was drawn from (truncated and scaled), like llama-server's
 * `post_sampling_probs: true`. Only used when a request asks for logprobs: the full map costs a vocabulary-sized
 * array per token.
 */
export class LogprobCapture {
  private readonly texts = new Map<Token, { token: string; bytes: number[] }>();
  private pending: TokenLogprob[] = [];
  private anchor: Token[] | undefined;
  /** Every entry handed out with text, in order. */
  readonly emitted: TokenLogprob[] = [];

  constructor(
    private readonly model: LlamaModel,
    /** Alternatives per token (0 to 20). */
    private readonly top: number,
  ) {}

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
      text = { token, bytes: [...encoder.encode(token)] };
      this.texts.set(id, text);
    }
    return { id, token: text.token, bytes: text.bytes, logprob: p > 0 ? Math.log(p) : LOWEST_LOGPROB };
  }
}
