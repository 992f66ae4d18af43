import { InputLookupTokenPredictor, TokenPredictor, type Token } from "node-llama-cpp";
import type { Sampling } from "./sampling.ts";

/** What prompt lookup reads of a prepared generation (a structural type: the engine's PreparedGeneration fits it). */
interface LookupRequest {
  prompt: Token[];
  sampling: Pick<Sampling, "temperature" | "penalties">;
}

/**
 * Prompt-lookup speculative decoding (node-llama-cpp's InputLookupTokenPredictor: no draft model). When the last
 * tokens generated also occur in the prompt, the tokens that followed them there are guessed as the next ones and
 * checked in the same llama.cpp batch as the real next token; every guess the model confirms is a token that costs no
 * step of its own. Answers that copy the prompt (extraction, JSON filling, rewriting) gain; others pay only the
 * look-up, since nothing is guessed when the end of the answer is not found in the prompt.
 *
 * node-llama-cpp binds a predictor to a sequence when the sequence is created, so each slot gets one of these
 * switches, and each generation turns it on or off:
 *  - on only for greedy requests (temperature 0) without penalties: a sampled token would draw from the seeded RNG
 *    once per checked guess and a penalty reads the answer so far, which does not yet hold the guesses, so for those
 *    the answer would change (tested: greedy answers are identical with and without it);
 *  - guessing only while this is the one running generation (`alone`): with other streams in the step, the step is
 *    already a batch and the guesses lengthen it for every stream.
 * Off by default (`loadEngine({ promptLookup })`, no setting): on 2 CPU cores with Q4_K weights it measured slower
 * even on answers that copy their prompt (a 4-token check costs far more than one token there), and on quantized
 * weights a token computed inside a multi-token batch can differ in the last bits from one decoded alone, which can
 * flip a greedy near-tie. See bench/inference/README.md ("Prompt-lookup decoding").
 */
export class PromptLookup extends TokenPredictor {
  private readonly lookup = new InputLookupTokenPredictor({ patternLength: { min: 2 }, predictionLength: { max: 3 } });
  private active = false;

  /** `alone()`: no other generation is running on the context now. */
  constructor(private readonly alone: () => boolean) {
    super();
  }

  /** Called before a generation's first token: guesses come from its prompt, if it qualifies. */
  begin(request: LookupRequest): void {
    this.active = qualifies(request);
    this.lookup.updateInputTokens(this.active ? request.prompt : []);
  }

  /** The generation ended. */
  end(): void {
    this.active = false;
    this.lookup.updateInputTokens([]);
  }

  override reset(params: { stateTokens: Token[] }): void {
    this.lookup.reset(params);
  }

  override pushTokens(tokens: Token[]): void {
    this.lookup.pushTokens(tokens);
  }

  override predictTokens(): Token[] {
    return this.active && this.alone() ? this.lookup.predictTokens() : [];
  }

  override dispose(): void {
    this.lookup.dispose();
  }
}

/** Greedy and nothing that reads the answer so far: guesses then cannot change a token. */
export function qualifies(request: LookupRequest): boolean {
  return request.sampling.temperature === 0 && request.sampling.penalties === undefined;
}
