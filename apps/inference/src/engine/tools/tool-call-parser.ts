import { randomBytes } from "node:crypto";
import type { ToolCall, ToolCallDelta } from "@slm/config";
import type { ToolFormat } from "./tool-format.ts";

/**
 * Parses a model's answer (the content part, after any thinking was split off) into text and OpenAI tool calls, in
 * the syntax of the template's family (tool-format.ts). Hand-written: the syntaxes are llama.cpp's, there is no
 * library for them, and the parser must run on a token stream: text that may be the start of a call is held back
 * until it is a call (then id and name go out, then the arguments) or cannot be one (then it goes out as text). Text
 * that looks like a call but does not parse, or calls a function that was not offered, stays text: never an error.
 */

export interface ParsedCall {
  name: string;
  /**
   * The arguments as JSON text: as the model wrote them (so a stream can send them as they are generated), or
   * re-serialised when the model wrote them in another shape (after the name, or as a string).
   */
  arguments: string;
}

export interface ParsedOutput {
  content: string;
  calls: ParsedCall[];
}

/** A call (or calls) found at a start marker, with the text it ends at; `content` for a generic `{"response": ...}`. */
type Scan = { calls: ParsedCall[]; end: number; content?: string } | "incomplete" | "invalid";

/**
 * Incremental parse over the whole answer so far. Everything before `settled` is final: its text went to `content`
 * and its calls to `calls`; the rest is held back while it may still be (the start of) a call.
 */
class Parser {
  content = "";
  calls: ParsedCall[] = [];
  private settled = 0;
  /** Whitespace right after a call is dropped: it separates calls or ends the answer. */
  private afterCall = false;
  /** The answer made its `maxCalls` calls: whatever follows is dropped. */
  full = false;

  constructor(
    private readonly format: ToolFormat,
    private readonly names: ReadonlySet<string>,
    private readonly maxCalls?: number,
  ) {}

  /** Parses `text` (the answer so far, growing) from where the last call left off. */
  advance(text: string, final: boolean): void {
    if (this.full) {
      this.settled = text.length;
      return;
    }
    let searchFrom = this.settled;
    for (;;) {
      if (this.afterCall) {
        let i = this.settled;
        while (i < text.length && isSpace(text[i]!)) i++;
        if (i === text.length && !final) return;
        this.settled = searchFrom = i;
        this.afterCall = false;
      }
      const start = this.findStart(text, searchFrom);
      if (start === undefined) {
        const keep = final ? 0 : this.partialStart(text);
        this.take(text, text.length - keep);
        return;
      }
      const scan = this.scan(text, start, final);
      if (scan === "incomplete") {
        this.take(text, start);
        return;
      }
      if (scan === "invalid") {
        searchFrom = start + 1;
        continue;
      }
      this.take(text, start);
      this.calls.push(...scan.calls);
      if (scan.content !== undefined) this.content += scan.content;
      if (this.maxCalls !== undefined && this.calls.length >= this.maxCalls) {
        this.calls.length = this.maxCalls;
        this.full = true;
        this.settled = text.length;
        return;
      }
      this.settled = searchFrom = scan.end;
      this.afterCall = true;
    }
  }

  /**
   * Parses an answer that max_tokens cut off: a call it cut is a call with the arguments written so far (OpenAI's
   * `finish_reason: "length"` answer), and a call cut before its arguments began is dropped, never shown as text.
   */
  cutOff(text: string): void {
    this.advance(text, false);
    if (this.full) return;
    const open = this.openCalls(text);
    if (open.length > 0) {
      this.calls.push(...open.slice(0, (this.maxCalls ?? Number.POSITIVE_INFINITY) - this.calls.length));
      this.settled = text.length;
      return;
    }
    const rest = text.slice(skipSpace(text, this.settled));
    // A call cut before its arguments, or inside its opening marker ("<tool_cal"): dropped.
    const cutCall = (marker: string) =>
      marker !== "{" && (rest.startsWith(marker) || (rest.length > 0 && marker.startsWith(rest)));
    if (this.format.starts.some(cutCall)) {
      this.settled = text.length;
      return;
    }
    this.advance(text, true);
  }

  private take(text: string, end: number): void {
    if (end > this.settled) this.content += text.slice(this.settled, end);
    this.settled = Math.max(this.settled, end);
  }

  private findStart(text: string, from: number): number | undefined {
    if (this.format.name === "generic") {
      // The generic JSON form is the whole answer: it may only start it.
      const first = skipSpace(text, 0);
      return this.calls.length === 0 && from <= first && text[first] === "{" ? first : undefined;
    }
    let best: number | undefined;
    for (const marker of this.format.starts) {
      const at = text.indexOf(marker, from);
      if (at >= 0 && (best === undefined || at < best)) best = at;
    }
    return best;
  }

  /** Length of the held-back tail that may still become a start marker. */
  private partialStart(text: string): number {
    let keep = 0;
    for (const marker of this.format.starts) {
      for (let n = Math.min(marker.length - 1, text.length - this.settled); n > keep; n--) {
        if (text.endsWith(marker.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    return keep;
  }

  private scan(text: string, at: number, final: boolean): Scan {
    switch (this.format.name) {
      case "hermes":
        return this.scanHermes(text, at, final);
      case "llama3":
        return this.scanLlama3(text, at, final);
      case "mistral":
        return this.scanMistral(text, at, final);
      case "mistral-args":
        return this.scanMistralArgs(text, at, final);
      case "generic":
        return this.scanGeneric(text, at, final);
    }
  }

  /** `<tool_call>` JSON `</tool_call>` (the closing tag may be cut off by the end of the answer). */
  private scanHermes(text: string, at: number, final: boolean): Scan {
    const value = readJson(text, at + "<tool_call>".length, final);
    if (typeof value === "string") return value;
    const call = this.callOf(value.json, ["arguments", "parameters"], rawArguments(text, value.start, value.end)[0]);
    if (!call) return "invalid";
    const close = skipSpace(text, value.end);
    if (text.startsWith("</tool_call>", close)) return { calls: [call], end: close + "</tool_call>".length };
    if (close === text.length) return final ? { calls: [call], end: close } : "incomplete";
    if ("</tool_call>".startsWith(text.slice(close))) return "incomplete";
    return "invalid";
  }

  /** `<|python_tag|>`? then one JSON object `{"name", "parameters"}` (a `;`-separated list is accepted too). */
  private scanLlama3(text: string, at: number, final: boolean): Scan {
    let i = text.startsWith("<|python_tag|>", at) ? at + "<|python_tag|>".length : at;
    const calls: ParsedCall[] = [];
    for (;;) {
      const value = readJson(text, i, final);
      if (typeof value === "string") return value;
      const call = this.callOf(value.json, ["parameters", "arguments"], rawArguments(text, value.start, value.end)[0]);
      if (!call) return "invalid";
      calls.push(call);
      const next = skipSpace(text, value.end);
      if (text[next] !== ";") return { calls, end: value.end };
      i = next + 1;
      if (skipSpace(text, i) === text.length && !final) return "incomplete";
    }
  }

  /** `[TOOL_CALLS]` then a JSON array of `{"name", "arguments"}`. */
  private scanMistral(text: string, at: number, final: boolean): Scan {
    const value = readJson(text, at + "[TOOL_CALLS]".length, final);
    if (typeof value === "string") return value;
    const list = Array.isArray(value.json) ? value.json : [value.json];
    const raw = rawArguments(text, value.start, value.end);
    const calls = list.map((item, i) =>
      this.callOf(item, ["arguments", "parameters"], raw.length === list.length ? raw[i] : undefined),
    );
    if (calls.length === 0 || calls.some((c) => c === undefined)) return "invalid";
    return { calls: calls as ParsedCall[], end: value.end };
  }

  /** `[TOOL_CALLS]name[CALL_ID]id[ARGS]{...}`, the `[CALL_ID]` part optional. */
  private scanMistralArgs(text: string, at: number, final: boolean): Scan {
    const nameAt = at + "[TOOL_CALLS]".length;
    const argsTag = text.indexOf("[ARGS]", nameAt);
    if (argsTag < 0) {
      const rest = text.slice(nameAt);
      return !final && /^[\w.-]*(\[[A-Z_]*\]?[\w-]*){0,2}$/.test(rest) ? "incomplete" : "invalid";
    }
    let name = text.slice(nameAt, argsTag);
    const idTag = name.indexOf("[CALL_ID]");
    if (idTag >= 0) name = name.slice(0, idTag);
    if (!this.names.has(name)) return "invalid";
    const value = readJson(text, argsTag + "[ARGS]".length, final);
    if (typeof value === "string") return value;
    if (!isObject(value.json)) return "invalid";
    return { calls: [{ name, arguments: text.slice(value.start, value.end) }], end: value.end };
  }

  /** The whole answer is `{"tool_call": {...}}`, `{"tool_calls": [...]}` or `{"response": ...}`. */
  private scanGeneric(text: string, at: number, final: boolean): Scan {
    const value = readJson(text, at, final);
    if (typeof value === "string") return value;
    if (skipSpace(text, value.end) < text.length) return "invalid";
    if (!final) return "incomplete";
    const json = value.json;
    if (!isObject(json)) return "invalid";
    if (typeof json.response === "string" && Object.keys(json).length === 1)
      return { calls: [], end: value.end, content: json.response };
    const list = Array.isArray(json.tool_calls)
      ? json.tool_calls
      : json.tool_call !== undefined
        ? [json.tool_call]
        : undefined;
    if (!list) return "invalid";
    const raw = rawArguments(text, value.start, value.end);
    const calls = list.map((item, i) =>
      this.callOf(item, ["arguments", "parameters"], raw.length === list.length ? raw[i] : undefined),
    );
    if (calls.length === 0 || calls.some((c) => c === undefined)) return "invalid";
    return { calls: calls as ParsedCall[], end: value.end };
  }

  /**
   * Calls still being written after the settled text (only meaningful when a grammar guarantees they complete):
   * each with its name and its arguments so far, in order.
   */
  openCalls(text: string): Array<{ name: string; arguments: string }> {
    const open: Array<{ name: string; arguments: string }> = [];
    const pattern = this.format.name === "mistral-args" ? MISTRAL_ARGS_START : NAME_THEN_ARGUMENTS;
    pattern.lastIndex = this.settled;
    for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
      const name = match[1]!;
      if (!this.names.has(name)) break;
      const value = readJson(text, pattern.lastIndex, false);
      if (value === "invalid") break;
      if (value === "incomplete") {
        open.push({ name, arguments: text.slice(pattern.lastIndex) });
        break;
      }
      open.push({ name, arguments: text.slice(value.start, value.end) });
      pattern.lastIndex = value.end;
    }
    return open;
  }

  /** A `{"name": ..., "<args>": {...}}` object naming an offered function; arguments as JSON text. */
  private callOf(json: unknown, argsKeys: readonly string[], raw?: string): ParsedCall | undefined {
    if (!isObject(json)) return undefined;
    const inner = isObject(json.function) && json.type === "function" ? json.function : json;
    if (typeof inner.name !== "string" || !this.names.has(inner.name)) return undefined;
    const key = argsKeys.find((k) => k in inner);
    const args = key === undefined ? {} : inner[key];
    if (typeof args === "string") {
      // Some fine-tunes write the arguments as a JSON string, as OpenAI returns them.
      try {
        if (isObject(JSON.parse(args))) return { name: inner.name, arguments: args };
      } catch {
        return undefined;
      }
      return undefined;
    }
    if (!isObject(args)) return undefined;
    return { name: inner.name, arguments: raw ?? JSON.stringify(args) };
  }
}

export interface ParseOptions {
  /** At most this many calls (a named function, `parallel_tool_calls: false`): what follows is dropped. */
  maxCalls?: number | undefined;
  /** The answer was cut by max_tokens: a call it cut comes back with its arguments so far (see `cutOff`). */
  cut?: boolean;
}

/** Parses a whole answer. */
export function parseToolCalls(
  format: ToolFormat,
  toolNames: ReadonlySet<string>,
  output: string,
  options: ParseOptions = {},
): ParsedOutput {
  const parser = new Parser(format, toolNames, options.maxCalls);
  if (options.cut) parser.cutOff(output);
  else parser.advance(output, true);
  return { content: parser.content, calls: parser.calls };
}

/** The stream's view: new text, and the calls completed since the last push (each with its index). */
export interface ToolStreamDelta {
  content: string;
  calls: ToolCallDelta[];
}

/**
 * Streaming form: `push` answer text, get the text that is final and the calls that completed; `end` releases what
 * was held back. Each call goes out as OpenAI sends it: a delta with index, id, type, name and empty arguments, then
 * the arguments. Text that is only whitespace is held until something follows it, so that an answer made of calls
 * has no content, in the stream as in the JSON answer.
 */
export class ToolCallStream {
  private readonly parser: Parser;
  private text = "";
  private sentContent = 0;
  /** Per call index: its id and the arguments sent so far. */
  private readonly sent: Array<{ id: string; arguments: string }> = [];

  /**
   * `incremental`: a grammar guarantees every call started completes (`required`, a named function), so a call goes
   * out as soon as its name is written and its arguments as they are generated. Otherwise a call goes out once it
   * parsed (until then it may still turn out to be text).
   */
  constructor(
    private readonly format: ToolFormat,
    toolNames: ReadonlySet<string>,
    private readonly incremental = false,
    options: Pick<ParseOptions, "maxCalls"> = {},
  ) {
    this.maxCalls = options.maxCalls;
    this.parser = new Parser(format, toolNames, options.maxCalls);
  }

  private readonly maxCalls: number | undefined;

  /** The ids given to the calls so far. */
  get ids(): string[] {
    return this.sent.map((s) => s.id);
  }

  push(text: string): ToolStreamDelta {
    this.text += text;
    this.parser.advance(this.text, false);
    return this.delta(false);
  }

  /** `cut`: max_tokens ended the answer, so a call it cut goes out with its arguments so far (not as text). */
  end(cut = false): ToolStreamDelta {
    if (cut) this.parser.cutOff(this.text);
    else this.parser.advance(this.text, true);
    return this.delta(true);
  }

  private delta(final: boolean): ToolStreamDelta {
    const { content: all, calls } = this.parser;
    let content = all.slice(this.sentContent);
    if (this.sentContent === 0 && isWhitespace(content) && (!final || calls.length > 0)) content = "";
    this.sentContent += content.length;
    const deltas: ToolCallDelta[] = [];
    const open = this.incremental && !final && !this.parser.full ? this.parser.openCalls(this.text) : [];
    const written = [...calls, ...open].slice(0, this.maxCalls ?? Number.POSITIVE_INFINITY);
    for (const [index, call] of written.entries()) {
      let sent = this.sent[index];
      if (!sent) {
        sent = { id: newToolCallId(this.format), arguments: "" };
        this.sent[index] = sent;
        deltas.push({ index, id: sent.id, type: "function", function: { name: call.name, arguments: "" } });
      }
      // What was sent is a prefix of what is written (the same text, growing).
      if (call.arguments.length > sent.arguments.length && call.arguments.startsWith(sent.arguments)) {
        deltas.push({ index, function: { arguments: call.arguments.slice(sent.arguments.length) } });
        sent.arguments = call.arguments;
      }
    }
    return { content, calls: deltas };
  }
}

/** OpenAI's message fields for a parsed answer: content null when the answer is only calls. */
export function toolMessage(
  format: ToolFormat,
  parsed: ParsedOutput,
): { content: string | null; tool_calls?: ToolCall[] } {
  if (parsed.calls.length === 0) return { content: parsed.content };
  return {
    content: isWhitespace(parsed.content) ? null : parsed.content,
    tool_calls: parsed.calls.map((c) => toolCall(c, newToolCallId(format))),
  };
}

function toolCall(call: ParsedCall, id: string): ToolCall {
  return { id, type: "function", function: { name: call.name, arguments: call.arguments } };
}

const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** `call_` and 24 random alphanumerics; 9 alphanumerics for Mistral, whose templates check exactly that. */
export function newToolCallId(format: Pick<ToolFormat, "idStyle">): string {
  const length = format.idStyle === "mistral" ? 9 : 24;
  let id = "";
  for (const byte of randomBytes(length)) id += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return format.idStyle === "mistral" ? id : `call_${id}`;
}

/**
 * Reads one JSON object or array starting at `at` (after optional whitespace). "incomplete" when the text ends
 * inside it (and more may come), "invalid" when it is not JSON.
 */
function readJson(
  text: string,
  at: number,
  final: boolean,
): { json: unknown; start: number; end: number } | "incomplete" | "invalid" {
  const start = skipSpace(text, at);
  if (start === text.length) return final ? "invalid" : "incomplete";
  if (text[start] !== "{" && text[start] !== "[") return "invalid";
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i]!;
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") {
      depth--;
      if (depth === 0) {
        try {
          return { json: JSON.parse(text.slice(start, i + 1)), start, end: i + 1 };
        } catch {
          return "invalid";
        }
      }
    }
  }
  return final ? "invalid" : "incomplete";
}

/** `"name": "<name>", "arguments"|"parameters": ` right before an object: where a call's arguments start. */
const NAME_THEN_ARGUMENTS = /"name"\s*:\s*"([\w-]+)"\s*,\s*"(?:arguments|parameters)"\s*:\s*(?=\{)/g;
/** What may stand between two calls' arguments (or before the first): brackets, commas, the generic form's key. */
const CALL_GAP = /^[\s[\]{},]*(?:"tool_calls?"\s*:)?[\s[\]{},]*$/;
/** Mistral's `[TOOL_CALLS]name[CALL_ID]id[ARGS]` before an object. */
const MISTRAL_ARGS_START = /\[TOOL_CALLS\]([\w-]+)(?:\[CALL_ID\]\w*)?\[ARGS\]\s*(?=\{)/g;

/**
 * The arguments objects of the calls written between `start` and `end`, as the model wrote them, in order (a call
 * that names its function after its arguments has none here: its arguments are re-serialised instead).
 */
function rawArguments(text: string, start: number, end: number): string[] {
  const found: string[] = [];
  const slice = text.slice(0, end);
  let from = start;
  NAME_THEN_ARGUMENTS.lastIndex = start;
  for (let match = NAME_THEN_ARGUMENTS.exec(slice); match; match = NAME_THEN_ARGUMENTS.exec(slice)) {
    // Only punctuation (and the generic form's key) may separate calls: a "name" found anywhere else is inside
    // arguments, and then the positions cannot be trusted.
    if (!CALL_GAP.test(slice.slice(from, match.index))) return [];
    const value = readJson(slice, NAME_THEN_ARGUMENTS.lastIndex, true);
    if (typeof value === "string") break;
    found.push(slice.slice(value.start, value.end));
    NAME_THEN_ARGUMENTS.lastIndex = from = value.end;
  }
  return found;
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && isSpace(text[at]!)) at++;
  return at;
}

function isSpace(char: string): boolean {
  return char === " " || char === "\t" || char === "\n" || char === "\r";
}

function isWhitespace(text: string): boolean {
  for (const char of text) if (!isSpace(char)) return false;
  return true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
