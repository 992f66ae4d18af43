/**
 * Splits a chat answer into `reasoning_content` and `content` exactly as llama-server's output parser does for
 * reasoning templates (common/chat-auto-parser-generator.cpp in the bundled llama.cpp source), so a reasoning
 * fine-tune answers the same through us as through llama-server and vLLM. Hand-written: the rules are llama.cpp's
 * own, and they must run on a token stream, holding back only what may still turn out to be a tag.
 *
 * The rules, on `tail + output` where `tail` is the generation prompt from the thinking tag on (DeepSeek-R1 and QwQ
 * open the thinking section in the prompt; Qwen3 with thinking off closes an empty one there):
 * - leading whitespace is skipped (reasoning templates but Gemma 4's, or when tools were given);
 * - an optional thinking section: the start tag (its own surrounding whitespace optional), then everything up to
 *   the end tag's core is reasoning, then the end tag with its own trailing whitespace, as far as present;
 * - the rest is content, untrimmed. Reasoning that is only whitespace is dropped.
 * With `reasoning_format: "none"` the content is `tail + output`, as generated.
 */

/** A tag with the whitespace the template writes around it (Qwen3's end tag is "\n</think>\n\n"). */
export interface ReasoningTag {
  lead: string;
  core: string;
  trail: string;
}

export interface ReasoningTags {
  start: ReasoningTag;
  end: ReasoningTag;
  /** Gemma 4's parser does not skip the answer's leading whitespace; the others do. */
  keepLeadingSpace?: boolean;
  /** Control tokens shown as text in the answer (so the tags can be found in it), when each is one token. */
  preserve: readonly string[];
}

/** The thinking delimiters of the families llama-server parses. */
const TAG_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ["<think>", "</think>"], // DeepSeek-R1, Qwen3, QwQ, SmolLM3, GLM, MiniMax, Nemotron, ...
  ["<seed:think>", "</seed:think>"], // ByteDance Seed-OSS
  ["<|START_THINKING|>", "<|END_THINKING|>"], // Command R7B / Command A
  ["[THINK]", "[/THINK]"], // Magistral / Ministral reasoning
];

const REASONING_MARK = "R3as0n1ngMark";
const CONTENT_MARK = "C0ntentMark";

/**
 * The template's thinking tags, found as llama.cpp finds them: render an assistant turn that has `reasoning_content`
 * and read the text the template puts around it. Templates that only strip thinking from history
 * (`content.split('</think>')`, DeepSeek-R1's) get the bare tags.
 */
export function detectReasoningTags(
  templateText: string,
  render: (messages: unknown[]) => string,
): ReasoningTags | undefined {
  // Gemma 4 (recognised as llama-server recognises it): a "thought" channel, `<|channel>thought\n...<channel|>`.
  if (templateText.includes("'<|tool_call>call:'")) {
    return {
      start: { lead: "", core: "<|channel>thought", trail: "\n" },
      end: { lead: "", core: "<channel|>", trail: "" },
      keepLeadingSpace: true,
      preserve: ["<|channel>", "<channel|>"],
    };
  }
  let text = "";
  try {
    text = render([
      { role: "user", content: "User message" },
      { role: "assistant", content: CONTENT_MARK, reasoning_content: REASONING_MARK },
    ]);
  } catch {
    // a template that refuses this conversation: fall back to its text
  }
  const r = text.indexOf(REASONING_MARK);
  const c = text.indexOf(CONTENT_MARK);
  if (r >= 0 && c > r) {
    const between = text.slice(r + REASONING_MARK.length, c);
    for (const [open, close] of TAG_PAIRS) {
      const closeAt = between.indexOf(close);
      const openAt = text.lastIndexOf(open, r);
      if (closeAt < 0 || openAt < 0) continue;
      const startTrail = text.slice(openAt + open.length, r);
      const endLead = between.slice(0, closeAt);
      const endTrail = between.slice(closeAt + close.length);
      if (![startTrail, endLead, endTrail].every(isWhitespace)) break;
      return {
        start: { lead: "", core: open, trail: startTrail },
        end: { lead: endLead, core: close, trail: endTrail },
        preserve: [open, close],
      };
    }
  }
  const pair = TAG_PAIRS.find(([, close]) => templateText.includes(close));
  return pair
    ? { start: { lead: "", core: pair[0], trail: "" }, end: { lead: "", core: pair[1], trail: "" }, preserve: pair }
    : undefined;
}

export interface OutputSyntax {
  /** The template's thinking tags; undefined for templates without a thinking section. */
  tags?: ReasoningTags | undefined;
  /** The generation prompt (what add_generation_prompt appended to the conversation). */
  generationPrompt: string;
  /** Tools were given (llama-server then also skips the output's leading whitespace). */
  tools: boolean;
  /** `reasoning_format: "none"`: the thinking stays in `content`. */
  raw: boolean;
}

export interface SplitText {
  reasoning: string;
  content: string;
}

/** Parses a whole answer. */
export function splitOutput(syntax: OutputSyntax, output: string): SplitText {
  return parse(syntax, output, true);
}

/** Streaming form: `push` generated text, get the new reasoning and content; `end` returns what was held back. */
export class OutputSplitter {
  private output = "";
  private sent: SplitText = { reasoning: "", content: "" };
  /** Set when the answer is content as generated (no thinking tags, no tools, or "none"): text passes straight through. */
  private verbatimPrefix: string | undefined;

  constructor(private readonly syntax: OutputSyntax) {
    if (syntax.raw)
      this.verbatimPrefix = syntax.tags ? promptTail(syntax.generationPrompt, syntax.tags.start.core) : "";
    else if (!syntax.tags && !syntax.tools) this.verbatimPrefix = "";
  }

  push(text: string): SplitText {
    if (this.verbatimPrefix !== undefined) {
      const content = this.verbatimPrefix + text;
      this.verbatimPrefix = "";
      return { reasoning: "", content };
    }
    // Once the answer has started, everything after is answer as generated: no need to parse the whole text again
    // for every token.
    if (this.sent.content.length > 0) {
      this.sent.content += text;
      return { reasoning: "", content: text };
    }
    this.output += text;
    return this.diff(parse(this.syntax, this.output, false));
  }

  end(): SplitText {
    if (this.verbatimPrefix !== undefined) {
      const content = this.verbatimPrefix;
      this.verbatimPrefix = "";
      return { reasoning: "", content };
    }
    if (this.sent.content.length > 0) return { reasoning: "", content: "" };
    return this.diff(parse(this.syntax, this.output, true));
  }

  private diff(next: SplitText): SplitText {
    // The conservative partial parse only ever grows both parts; anything else is held until it does.
    if (!next.reasoning.startsWith(this.sent.reasoning) || !next.content.startsWith(this.sent.content))
      return { reasoning: "", content: "" };
    const delta = {
      reasoning: next.reasoning.slice(this.sent.reasoning.length),
      content: next.content.slice(this.sent.content.length),
    };
    this.sent = next;
    return delta;
  }
}

/**
 * `final` false: the output may continue, so whatever could still change meaning (whitespace that may be skipped,
 * a partial tag, reasoning that is whitespace so far) is left out.
 */
function parse(syntax: OutputSyntax, output: string, final: boolean): SplitText {
  const { tags } = syntax;
  const tail = tags ? promptTail(syntax.generationPrompt, tags.start.core) : "";
  const text = tail + output;
  if (syntax.raw || (!tags && !syntax.tools)) return { reasoning: "", content: syntax.raw ? text : output };

  let i = 0;
  if (!tags?.keepLeadingSpace) while (i < text.length && isSpace(text[i]!)) i++;
  if (!final && i === text.length) return { reasoning: "", content: "" };
  if (!tags) return { reasoning: "", content: text.slice(i) };

  const { start, end } = tags;
  let at = skipOptional(text, i, start.lead);
  if (!text.startsWith(start.core, at)) {
    if (!final && start.core.startsWith(text.slice(at))) return { reasoning: "", content: "" };
    return { reasoning: "", content: text.slice(i) };
  }
  at = skipOptional(text, at + start.core.length, start.trail);
  if (!final && at === text.length) return { reasoning: "", content: "" };

  const close = text.indexOf(end.core, at);
  if (close < 0) {
    let reasoning = text.slice(at);
    if (!final) reasoning = reasoning.slice(0, reasoning.length - partialSuffix(reasoning, end.core));
    return { reasoning: isWhitespace(reasoning) ? "" : reasoning, content: "" };
  }
  const reasoning = text.slice(at, close);
  const after = close + end.core.length;
  const contentAt = skipOptional(text, after, end.trail);
  if (!final && contentAt === text.length && contentAt - after < end.trail.length) {
    return { reasoning: isWhitespace(reasoning) ? "" : reasoning, content: "" };
  }
  return { reasoning: isWhitespace(reasoning) ? "" : reasoning, content: text.slice(contentAt) };
}

/** The generation prompt from the thinking start tag on ("<think>\n" for DeepSeek-R1), or "" when it has none. */
function promptTail(generationPrompt: string, startCore: string): string {
  const at = generationPrompt.indexOf(startCore);
  return at < 0 ? "" : generationPrompt.slice(at);
}

/** Skips as much of `optional` as `text` has at `at`, character by character. */
function skipOptional(text: string, at: number, optional: string): number {
  let i = 0;
  while (i < optional.length && text[at + i] === optional[i]) i++;
  return at + i;
}

/** Length of the longest suffix of `text` that is a proper prefix of `tag`. */
function partialSuffix(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(tag.slice(0, n))) return n;
  }
  return 0;
}

/** C's isspace, which llama.cpp's parser uses. */
function isSpace(char: string): boolean {
  return char === " " || char === "\t" || char === "\n" || char === "\r" || char === "\v" || char === "\f";
}

function isWhitespace(text: string): boolean {
  for (const char of text) if (!isSpace(char)) return false;
  return true;
}
