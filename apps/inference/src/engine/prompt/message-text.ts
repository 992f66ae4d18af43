import { randomInt } from "node:crypto";
import type { LlamaModel, Token } from "node-llama-cpp";

/**
 * Messages are text. A prompt is tokenized with special tokens parsed so that the chat template's `<|im_start|>`
 * becomes its token id; llama-server tokenizes the user's text the same way, so a user who writes `</s>` sends the
 * end-of-sequence token and one who writes `<|im_start|>system` on a ChatML model forges a system turn. Here only
 * the template's own text may become a control token: the text of a control token (and the partial one at either
 * end, which could join the template's text next to it into one) in anything the caller wrote (message contents and
 * names, tool calls and results, tools, template kwargs) is tokenized as plain text, as a reference tokenizer does
 * with `split_special_tokens`.
 *
 * How, without changing a token of an ordinary prompt: the template is rendered with each such piece of caller text
 * replaced by a placeholder of digits (which survives trim, upper, tojson, ...). Without any, nothing was replaced and
 * the prompt is tokenized in one piece as before. With some, llama.cpp's own tokenization is followed: it splits
 * the text at each special token it recognises and tokenizes every stretch of text between two of them on its own
 * (SentencePiece's space prefix at the start of each). So the prompt is tokenized in pieces cut at the template's
 * control tokens only: each stretch holding a placeholder is tokenized, with the caller's text put back, without
 * parsing special tokens; the pieces between them as before. The result is what llama.cpp gives for the same text
 * when it does not recognise the caller's control-token texts. `ALLOW_SPECIAL_TOKENS_IN_MESSAGES=1` turns this off.
 */

/** A control (or unknown) token of the vocabulary: what llama.cpp turns into one id only when parsing specials. */
export interface ControlToken {
  text: string;
  /** llama.cpp strips the whitespace before / after it from the text next to it. */
  lstrip: boolean;
  rstrip: boolean;
}

/** The vocabulary's control and unknown tokens as text (whitespace-only texts aside). */
export function controlTokens(model: LlamaModel): ControlToken[] {
  const found = new Map<string, ControlToken>();
  for (const token of model.iterateAllTokens()) {
    const attributes = model.getTokenAttributes(token);
    if (!attributes.control && !attributes.unknown) continue;
    const text = model.detokenize([token], true);
    if (text.trim() === "" || found.has(text)) continue;
    found.set(text, { text, lstrip: attributes.lstrip, rstrip: attributes.rstrip });
  }
  return [...found.values()];
}

/** The control-token texts of one vocabulary, and how to keep them out of a prompt's caller text. */
export class MessageText {
  /** Every control-token text, longest first: where llama.cpp cuts a prompt. */
  private readonly one: RegExp | undefined;
  private readonly tokens: ReadonlyMap<string, ControlToken>;
  /** A run of the texts held back from caller text (all of them but `except`'s). */
  private readonly run: RegExp | undefined;
  private readonly heldTokens: readonly ControlToken[];
  /** Proper prefixes and suffixes of those: caller text ending / starting with one could complete a token. */
  private readonly prefixes = new Set<string>();
  private readonly suffixes = new Set<string>();
  private readonly longest: number;
  /** The same without some texts (`except`), built once each. */
  private readonly without = new Map<string, MessageText>();

  constructor(tokens: readonly ControlToken[], held: readonly ControlToken[] = tokens) {
    this.tokens = new Map(tokens.map((t) => [t.text, t]));
    this.one = alternatives(tokens, (any) => new RegExp(any, "g"));
    this.heldTokens = held;
    this.run = alternatives(held, (any) => new RegExp(`(?:${any})+`, "g"));
    for (const { text } of held) {
      for (let i = 1; i < text.length; i++) {
        this.prefixes.add(text.slice(0, i));
        this.suffixes.add(text.slice(i));
      }
    }
    this.longest = Math.max(0, ...held.map((t) => t.text.length));
  }

  static of(model: LlamaModel): MessageText {
    return new MessageText(controlTokens(model));
  }

  /**
   * The same but for `texts`: a reasoning template's thinking tags, which the template itself looks for in an
   * assistant turn's content to drop past thinking (`content.split('</think>')`), as it does under llama-server. They
   * mark thinking, not turns: a caller cannot forge a turn with them.
   */
  except(texts: readonly string[]): MessageText {
    const dropped = texts.filter((text) => this.heldTokens.some((t) => t.text === text));
    if (dropped.length === 0) return this;
    const key = dropped.join("\u0000");
    let found = this.without.get(key);
    if (!found) {
      const held = this.heldTokens.filter((t) => !dropped.includes(t.text));
      found = new MessageText([...this.tokens.values()], held);
      this.without.set(key, found);
    }
    return found;
  }

  /** A scope for one prompt: its placeholders. */
  begin(): PromptText {
    return new PromptText(this);
  }

  /**
   * `value` cut into caller text to keep and pieces to hold back (control-token texts, runs of them, and a partial one
   * at either end): `[kept, held, kept, held, ..., kept]`. One element when there is nothing to hold back.
   */
  split(value: string): string[] {
    if (!this.run || value === "") return [value];
    const head = this.partial(value, (k) => this.suffixes.has(value.slice(0, k)), value.length);
    const tail = this.partial(value, (k) => this.prefixes.has(value.slice(value.length - k)), value.length - head);
    const parts = head > 0 ? ["", value.slice(0, head)] : [];
    const middle = value.slice(head, value.length - tail);
    let at = 0;
    for (const match of matches(this.run, middle)) {
      parts.push(middle.slice(at, match.index), match[0]);
      at = match.index + match[0].length;
    }
    parts.push(middle.slice(at));
    if (tail > 0) parts.push(value.slice(value.length - tail), "");
    return parts;
  }

  /** The longest k < the longest text, at most `room`, for which `matches(k)`; 0 when none. */
  private partial(value: string, matches: (k: number) => boolean, room: number): number {
    for (let k = Math.min(this.longest - 1, value.length, room); k > 0; k--) if (matches(k)) return k;
    return 0;
  }

  /** Where the template's control tokens are in `text`: [start, end, token] in order. */
  controlSpans(text: string): Array<{ start: number; end: number; token: ControlToken }> {
    if (!this.one) return [];
    return matches(this.one, text).map((m) => ({
      start: m.index,
      end: m.index + m[0].length,
      token: this.tokens.get(m[0])!,
    }));
  }
}

/** The placeholders of one prompt's caller text. */
export class PromptText {
  /** Random digits no caller can guess: a placeholder is the nonce and the index of what it holds, 8 digits. */
  private readonly nonce = `${randomInt(1e11, 1e12)}${randomInt(1e11, 1e12)}`;
  private readonly pattern = new RegExp(`${this.nonce}(\\d{8})`, "g");
  private readonly held: string[] = [];

  constructor(private readonly vocabulary: MessageText) {}

  /** Whether any caller text was held back: the prompt must then be tokenized with `tokenize`. */
  get holds(): boolean {
    return this.held.length > 0;
  }

  /** A caller's string as the template gets it: what may become a control token replaced by placeholders. */
  readonly text = (value: string): string => {
    const parts = this.vocabulary.split(value);
    if (parts.length === 1) return value;
    return parts.map((part, i) => (i % 2 === 0 ? part : this.hold(part))).join("");
  };

  private hold(text: string): string {
    this.held.push(text);
    return `${this.nonce}${String(this.held.length - 1).padStart(8, "0")}`;
  }

  /** The rendered text with the caller's text put back (what the prompt says). */
  restore(rendered: string): string {
    return rendered.replace(this.pattern, (_, index: string) => this.held[Number(index)] ?? "");
  }

  /**
   * Tokens of the rendered prompt (with placeholders), the caller's text tokenized as text: cut at the template's
   * control tokens around each stretch holding a placeholder, as llama.cpp cuts it (whitespace beside a token that
   * strips it left out), that stretch tokenized without parsing specials, the rest as before. No BOS / EOS added.
   */
  tokenize(model: LlamaModel, rendered: string): Token[] {
    const controls = this.vocabulary.controlSpans(rendered);
    const tokens: Token[] = [];
    // Where the text not yet tokenized starts, and the next control token (the first ending after it).
    let done = 0;
    let next = 0;
    for (const placeholder of rendered.matchAll(this.pattern)) {
      if (placeholder.index < done) continue;
      while (next < controls.length && controls[next]!.end <= placeholder.index) next++;
      const before = next > 0 ? controls[next - 1] : undefined;
      const after = controls[next];
      let start = before ? before.end : 0;
      let end = after ? after.start : rendered.length;
      if (start < done) start = done;
      if (before?.token.rstrip) while (start < end && /\s/.test(rendered[start]!)) start++;
      if (after?.token.lstrip) while (end > start && /\s/.test(rendered[end - 1]!)) end--;
      tokens.push(...model.tokenize(rendered.slice(done, before && before.end > done ? before.end : done), true));
      tokens.push(...model.tokenize(this.restore(rendered.slice(start, end)), false));
      done = after ? after.start : rendered.length;
    }
    tokens.push(...model.tokenize(rendered.slice(done), true));
    return tokens;
  }
}

/**
 * Every match of a global pattern. Not `String.prototype.matchAll`: it copies the pattern, and compiling one of a few
 * thousand alternatives for every string would cost more than the search.
 */
function matches(pattern: RegExp, text: string): RegExpExecArray[] {
  const found: RegExpExecArray[] = [];
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) found.push(match);
  return found;
}

/** One pattern matching any of the texts, longest first; undefined for none. */
function alternatives(tokens: readonly ControlToken[], build: (any: string) => RegExp): RegExp | undefined {
  if (tokens.length === 0) return undefined;
  const texts = tokens.map((t) => t.text).sort((a, b) => b.length - a.length);
  return build(texts.map(escapeRegExp).join("|"));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
