import { SpecialToken, type LlamaModel, type LlamaText, type Token } from "node-llama-cpp";

/**
 * Stop sequences. Text stops are matched on the decoded text (so any tokenization of the stop string matches) and
 * text that could still turn into a stop is held back until ruled out, so a stream never shows a partial stop.
 * Triggers that contain special tokens (a template's end-of-turn token) are matched on token ids instead: their text
 * is empty when decoded. Hand-written because node-llama-cpp's detector is internal to LlamaCompletion, whose loop
 * hides the per-token accounting this server reports (exact usage, tokens after cancel, per-token latency).
 */
export interface StopSet {
  texts: string[];
  tokenSequences: Token[][];
}

/** Splits stop triggers (request strings and a chat template's LlamaTexts) into text and token stops. */
export function resolveStops(
  model: LlamaModel,
  triggers: ReadonlyArray<LlamaText | string | readonly (string | Token)[]>,
): StopSet {
  const texts = new Set<string>();
  const tokenSequences: Token[][] = [];
  for (const trigger of triggers) {
    if (typeof trigger === "string") {
      if (trigger.length > 0) texts.add(trigger);
      continue;
    }
    if (isTokenList(trigger)) {
      if (trigger.length > 0) tokenSequences.push([...trigger]);
      continue;
    }
    if (!("tokenize" in trigger)) {
      texts.add(trigger.join(""));
      continue;
    }
    const tokens = trigger.tokenize(model.tokenizer, "trimLeadingSpace");
    const special =
      trigger.values.some((v) => v instanceof SpecialToken) || tokens.some((t) => model.isSpecialToken(t));
    if (special) {
      if (tokens.length > 0) tokenSequences.push(tokens);
    } else {
      const text = trigger.values.map((v) => (typeof v === "string" ? v : v.value)).join("");
      if (text.length > 0) texts.add(text);
    }
  }
  return { texts: [...texts], tokenSequences };
}

function isTokenList(trigger: readonly (string | Token)[] | LlamaText): trigger is readonly Token[] {
  return Array.isArray(trigger) && trigger.every((t) => typeof t === "number");
}

/** True when `generated` ends with one of the token stop sequences. */
export function endsWithTokenStop(generated: readonly Token[], sequences: readonly Token[][]): boolean {
  return sequences.some(
    (sequence) =>
      sequence.length <= generated.length &&
      sequence.every((token, i) => generated[generated.length - sequence.length + i] === token),
  );
}

/** Streaming matcher for text stops: feed decoded text, get back what is safe to emit. */
export class StopMatcher {
  private held = "";

  constructor(private readonly stops: readonly string[]) {}

  /** Adds text; returns the text that can be emitted now and whether a stop sequence was reached. */
  push(text: string): { emit: string; stopped: boolean } {
    const buffer = this.held + text;
    let cut = -1;
    for (const stop of this.stops) {
      const index = buffer.indexOf(stop);
      if (index >= 0 && (cut < 0 || index < cut)) cut = index;
    }
    if (cut >= 0) {
      this.held = "";
      return { emit: buffer.slice(0, cut), stopped: true };
    }
    const keep = this.longestPartialStop(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { emit: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** Text held back as a possible stop that never completed (the generation ended for another reason). */
  flush(): string {
    const rest = this.held;
    this.held = "";
    return rest;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop. */
  private longestPartialStop(buffer: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > longest; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
