/**
 * JSON Schema `pattern` (an ECMAScript regular expression, as ajv compiles it with the `u` flag) to GBNF for the JSON
 * string whose value it matches. Follows what llama.cpp's converter (`_visit_pattern`) supports - anchors, classes,
 * groups, alternation, quantifiers with {m,n} - and goes further: unanchored patterns (a search, as JSON Schema means
 * it), escapes such as \d \w \s inside and outside classes, negated classes, named and lazy groups. Every character
 * is written as JSON writes it inside a string (`"` and `\` escaped, control characters as escapes), so the decoded
 * value is what the pattern matches. A feature a grammar cannot express (lookaround, backreferences, word boundaries,
 * Unicode property escapes) is a `PatternError` naming it; llama.cpp accepts any string there instead.
 */

export class PatternError extends Error {
  constructor(
    message: string,
    readonly code: "unsupported_schema" | "schema_too_large" = "unsupported_schema",
  ) {
    super(message);
  }
}

type Range = readonly [number, number];
type Re =
  | { t: "set"; ranges: Range[] }
  | { t: "seq"; items: Re[] }
  | { t: "alt"; alts: Re[] }
  | { t: "repeat"; item: Re; min: number; max: number | undefined }
  | { t: "anchor"; start: boolean }
  | { t: "anyChar" };

const MAX_CODE = 0x10ffff;
const DIGIT: Range[] = [[0x30, 0x39]];
const WORD: Range[] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: Range[] = normalize([
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);
const DOT: Range[] = complement([
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
]);

function normalize(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(ranges: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of normalize(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE) out.push([next, MAX_CODE]);
  return out;
}

function subtract(ranges: Range[], minus: Range[]): Range[] {
  return complement([...complement(ranges), ...minus]);
}

class Parser {
  private i = 0;
  private groups = 0;
  constructor(private readonly src: string) {}

  parse(): Re {
    const re = this.alternation();
    if (this.i < this.src.length) throw new PatternError("unbalanced parentheses");
    return re;
  }

  private peek(): string | undefined {
    return this.src[this.i];
  }

  private alternation(): Re {
    const alts = [this.sequence()];
    while (this.peek() === "|") {
      this.i++;
      alts.push(this.sequence());
    }
    return alts.length === 1 ? alts[0]! : { t: "alt", alts };
  }

  private sequence(): Re {
    const items: Re[] = [];
    for (let c = this.peek(); c !== undefined && c !== "|" && c !== ")"; c = this.peek()) {
      const atom = this.atom();
      items.push(this.quantified(atom));
    }
    return items.length === 1 ? items[0]! : { t: "seq", items };
  }

  private quantified(atom: Re): Re {
    let min: number;
    let max: number | undefined;
    const c = this.peek();
    if (c === "*") [min, max] = [0, undefined];
    else if (c === "+") [min, max] = [1, undefined];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) return atom;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? undefined : Number(m[3]);
      this.i += m[0].length - 1;
    } else return atom;
    this.i++;
    if (this.peek() === "?") this.i++; // lazy: the same strings
    if (atom.t === "anchor") throw new PatternError("a quantifier on an anchor");
    return { t: "repeat", item: atom, min, max };
  }

  private atom(): Re {
    const c = this.src[this.i]!;
    this.i++;
    switch (c) {
      case "(":
        return this.group();
      case "[":
        return { t: "set", ranges: this.charClass() };
      case ".":
        return { t: "set", ranges: DOT };
      case "^":
        return { t: "anchor", start: true };
      case "$":
        return { t: "anchor", start: false };
      case "\\":
        return this.escape(false);
      case "*":
      case "+":
      case "?":
        throw new PatternError("nothing to repeat");
      default: {
        const code = this.src.codePointAt(this.i - 1)!;
        if (code > 0xffff) this.i++;
        return { t: "set", ranges: [[code, code]] };
      }
    }
  }

  private group(): Re {
    if (this.peek() === "?") {
      const rest = this.src.slice(this.i + 1);
      if (rest.startsWith(":")) this.i += 2;
      else if (rest.startsWith("=") || rest.startsWith("!"))
        throw new PatternError("lookahead (?= or (?! is not supported");
      else if (rest.startsWith("<=") || rest.startsWith("<!"))
        throw new PatternError("lookbehind (?<= or (?<! is not supported");
      else if (/^<[A-Za-z_$][\w$]*>/.test(rest)) this.i += 1 + rest.indexOf(">") + 1;
      else throw new PatternError("this group syntax (inline flags or modifiers) is not supported");
    }
    this.groups++;
    if (this.groups > 1000) throw new PatternError("more than 1000 groups", "schema_too_large");
    const inner = this.alternation();
    if (this.peek() !== ")") throw new PatternError("unbalanced parentheses");
    this.i++;
    return inner;
  }

  /** After a backslash; in a class `\b` is a backspace. Returns a set. */
  private escape(inClass: boolean): Re & { t: "set" } {
    const c = this.src[this.i];
    if (c === undefined) throw new PatternError("a trailing backslash");
    this.i++;
    const one = (code: number) => ({ t: "set" as const, ranges: [[code, code] as Range] });
    switch (c) {
      case "d":
        return { t: "set", ranges: DIGIT };
      case "D":
        return { t: "set", ranges: complement(DIGIT) };
      case "w":
        return { t: "set", ranges: WORD };
      case "W":
        return { t: "set", ranges: complement(WORD) };
      case "s":
        return { t: "set", ranges: SPACE };
      case "S":
        return { t: "set", ranges: complement(SPACE) };
      case "t":
        return one(9);
      case "n":
        return one(10);
      case "v":
        return one(11);
      case "f":
        return one(12);
      case "r":
        return one(13);
      case "0":
        if (/\d/.test(this.peek() ?? "")) throw new PatternError("octal escapes are not supported");
        return one(0);
      case "b":
        if (inClass) return one(8);
        throw new PatternError("word boundaries (\\b) are not supported");
      case "B":
        throw new PatternError("word boundaries (\\B) are not supported");
      case "k":
        throw new PatternError("backreferences (\\k<name>) are not supported");
      case "p":
      case "P":
        throw new PatternError(`Unicode property escapes (\\${c}{...}) are not supported`);
      case "c": {
        const letter = this.src[this.i];
        if (!letter || !/[A-Za-z]/.test(letter)) throw new PatternError("an invalid \\c escape");
        this.i++;
        return one(letter.charCodeAt(0) % 32);
      }
      case "x": {
        const hex = /^[0-9a-fA-F]{2}/.exec(this.src.slice(this.i));
        if (!hex) throw new PatternError("an invalid \\x escape");
        this.i += 2;
        return one(Number.parseInt(hex[0], 16));
      }
      case "u": {
        const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(this.src.slice(this.i));
        if (braced) {
          this.i += braced[0].length;
          return one(Number.parseInt(braced[1]!, 16));
        }
        const hex = /^[0-9a-fA-F]{4}/.exec(this.src.slice(this.i));
        if (!hex) throw new PatternError("an invalid \\u escape");
        this.i += 4;
        let code = Number.parseInt(hex[0], 16);
        const low = /^\\u(d[c-f][0-9a-f]{2})/i.exec(this.src.slice(this.i));
        if (code >= 0xd800 && code <= 0xdbff && low) {
          this.i += 6;
          code = 0x10000 + ((code - 0xd800) << 10) + (Number.parseInt(low[1]!, 16) - 0xdc00);
        }
        return one(code);
      }
      default:
        if (/[1-9]/.test(c)) throw new PatternError("backreferences (\\1) are not supported");
        if (/[\^$\\.*+?()[\]{}|/-]/.test(c)) return one(c.charCodeAt(0));
        throw new PatternError(`the escape \\${c} is not supported`);
    }
  }

  private charClass(): Range[] {
    let negated = false;
    if (this.peek() === "^") {
      negated = true;
      this.i++;
    }
    const ranges: Range[] = [];
    const single = (): { ranges: Range[]; code?: number } => {
      const c = this.src[this.i];
      if (c === undefined) throw new PatternError("an unterminated character class");
      if (c === "\\") {
        this.i++;
        const set = this.escape(true);
        const [first] = set.ranges;
        return set.ranges.length === 1 && first![0] === first![1] ? { ranges: set.ranges, code: first![0] } : set;
      }
      const code = this.src.codePointAt(this.i)!;
      this.i += code > 0xffff ? 2 : 1;
      return { ranges: [[code, code]], code };
    };
    while (this.peek() !== "]") {
      const from = single();
      if (this.peek() === "-" && this.src[this.i + 1] !== "]" && this.src[this.i + 1] !== undefined) {
        this.i++;
        const to = single();
        if (from.code === undefined || to.code === undefined)
          throw new PatternError("a class escape such as \\d cannot bound a range");
        if (from.code > to.code) throw new PatternError("a character range out of order");
        ranges.push([from.code, to.code]);
      } else ranges.push(...from.ranges);
    }
    this.i++;
    const set = normalize(ranges);
    return negated ? complement(set) : set;
  }
}

/** Characters a JSON string holds raw: not `"`, `\`, a control character, DEL (as llama.cpp's `char`) or a surrogate. */
const SPECIAL: Range[] = [
  [0x00, 0x1f],
  [0x22, 0x22],
  [0x5c, 0x5c],
  [0x7f, 0x7f],
  [0xd800, 0xdfff],
];
const RAW = complement(SPECIAL);
const SHORT_ESCAPES: Record<number, string> = { 8: "b", 9: "t", 10: "n", 12: "f", 13: "r", 34: '"', 92: "\\" };

/** A code point for the inside of a GBNF character class. */
function classChar(code: number): string {
  if (/[A-Za-z0-9]/.test(String.fromCodePoint(code))) return String.fromCodePoint(code);
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\U${code.toString(16).padStart(8, "0")}`;
}

function classBody(ranges: Range[]): string {
  return ranges.map(([lo, hi]) => (lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`)).join("");
}

/** The JSON escape of a special character, as a GBNF literal's inside (so `\"` is `\\\"`). */
function jsonEscape(code: number): string {
  const short = SHORT_ESCAPES[code];
  const text = short !== undefined ? `\\${short}` : `\\u${code.toString(16).padStart(4, "0")}`;
  return text.replace(/[\\"]/g, (c) => `\\${c}`);
}

/** One character of the set, as written inside a JSON string: a GBNF expression. */
export function setGrammar(ranges: Range[]): string | undefined {
  const raw = subtract(ranges, SPECIAL);
  const alts: string[] = [];
  if (raw.length > 0) {
    const missing = subtract(RAW, raw);
    alts.push(
      missing.length + SPECIAL.length < raw.length
        ? `[^${classBody(normalize([...missing, ...SPECIAL]))}]`
        : `[${classBody(raw)}]`,
    );
  }
  const special = subtract(ranges, RAW).filter(([lo]) => lo < 0xd800);
  const controls = special.reduce((n, [lo, hi]) => n + Math.max(0, Math.min(hi, 0x1f) - lo + 1), 0);
  if (controls === 32) alts.push(`"\\\\" [bfnrt]`, `"\\\\u00" [01] [0-9a-fA-F]`);
  for (const [lo, hi] of special)
    for (let code = lo; code <= hi; code++) if (controls !== 32 || code > 0x1f) alts.push(`"${jsonEscape(code)}"`);
  if (alts.length === 0) return undefined;
  return alts.length === 1 ? alts[0] : `(${alts.join(" | ")})`;
}

export interface PatternOptions {
  minLength: number;
  maxLength: number | undefined;
  /** Repetition counts above this are refused (`{m,n}` is spelt out by llama.cpp). */
  maxRepeat: number;
  /** Alternatives at one place above this are refused. */
  maxAlternatives: number;
  /** The rule name of any JSON string character (escapes included), for unanchored ends. */
  anyChar: string;
}

/**
 * The GBNF expression for a JSON string whose value matches `pattern` and has between minLength and maxLength
 * characters. Throws a PatternError for what it cannot express.
 */
export function patternGrammar(pattern: string, options: PatternOptions): string {
  try {
    new RegExp(pattern, "u");
  } catch {
    throw new PatternError("is not a valid regular expression");
  }
  let re = anchored(new Parser(pattern).parse());
  re = withLength(re, options.minLength, options.maxLength);
  const out = new Emitter(options).emit(re);
  return out === "" ? `"\\"\\""` : `"\\"" ${out} "\\""`;
}

/** Anchors lifted out: each top-level branch without `^` starts with any text, without `$` ends with it. */
function anchored(re: Re): Re {
  const branches = re.t === "alt" ? re.alts : [re];
  const any: Re = { t: "repeat", item: { t: "anyChar" }, min: 0, max: undefined };
  const out = branches.map((branch) => {
    const items = branch.t === "seq" ? [...branch.items] : [branch];
    const start = items[0]?.t === "anchor" && (items[0] as { start: boolean }).start;
    if (start) items.shift();
    const last = items[items.length - 1];
    const end = last?.t === "anchor" && !last.start;
    if (end) items.pop();
    if (items.some(hasAnchor)) throw new PatternError("an anchor (^ or $) inside the pattern is not supported");
    return { t: "seq" as const, items: [...(start ? [] : [any]), ...items, ...(end ? [] : [any])] };
  });
  return out.length === 1 ? out[0]! : { t: "alt", alts: out };
}

function hasAnchor(re: Re): boolean {
  switch (re.t) {
    case "anchor":
      return true;
    case "seq":
      return re.items.some(hasAnchor);
    case "alt":
      return re.alts.some(hasAnchor);
    case "repeat":
      return hasAnchor(re.item);
    default:
      return false;
  }
}

/** The fewest and most characters a match has (max undefined: unbounded). */
function lengths(re: Re): [number, number | undefined] {
  switch (re.t) {
    case "set":
    case "anyChar":
      return [1, 1];
    case "anchor":
      return [0, 0];
    case "seq":
      return re.items
        .map(lengths)
        .reduce(([a, b], [c, d]) => [a + c, b === undefined || d === undefined ? undefined : b + d], [0, 0]);
    case "alt": {
      const all = re.alts.map(lengths);
      return [
        Math.min(...all.map(([a]) => a)),
        all.some(([, b]) => b === undefined) ? undefined : Math.max(...all.map(([, b]) => b!)),
      ];
    }
    case "repeat": {
      const [a, b] = lengths(re.item);
      return [a * re.min, re.max === undefined ? (b === 0 ? 0 : undefined) : b === undefined ? undefined : b * re.max];
    }
  }
}

/**
 * The pattern within minLength/maxLength: unchanged when every match already fits; else, when all of it but one
 * repetition of a fixed-length item has a fixed length, that repetition's counts are narrowed. Otherwise a grammar
 * cannot hold both, and it is refused.
 */
function withLength(re: Re, minLength: number, maxLength: number | undefined): Re {
  const [lo, hi] = lengths(re);
  if (lo >= minLength && (maxLength === undefined || (hi !== undefined && hi <= maxLength))) return re;
  const items = re.t === "seq" ? re.items : [re];
  const flexible = items.filter((item) => {
    const [a, b] = lengths(item);
    return a !== b;
  });
  const target = flexible[0];
  if (flexible.length === 1 && target!.t === "repeat") {
    const [itemLo, itemHi] = lengths(target!.item);
    if (itemLo === itemHi && itemLo > 0) {
      const fixed = items.filter((i) => i !== target).reduce((n, i) => n + lengths(i)[0], 0);
      const min = Math.max(target!.min, Math.ceil((minLength - fixed) / itemLo));
      const maxFit = maxLength === undefined ? undefined : Math.floor((maxLength - fixed) / itemLo);
      const max =
        target!.max === undefined ? maxFit : maxFit === undefined ? target!.max : Math.min(target!.max, maxFit);
      if (max !== undefined && min > max)
        throw new PatternError("no string matches both the pattern and minLength/maxLength");
      const narrowed: Re = { ...target!, min, max };
      return re.t === "seq" ? { t: "seq", items: items.map((i) => (i === target ? narrowed : i)) } : narrowed;
    }
  }
  throw new PatternError(
    "minLength/maxLength together with this pattern cannot be enforced (supported when the pattern already implies them, or has a single variable-length repetition)",
  );
}

class Emitter {
  constructor(private readonly options: PatternOptions) {}

  emit(re: Re): string {
    switch (re.t) {
      case "anyChar":
        return this.options.anyChar;
      case "anchor":
        return "";
      case "set": {
        const g = setGrammar(re.ranges);
        if (g === undefined) throw new PatternError("a character class that matches nothing");
        return g;
      }
      case "seq": {
        const parts: string[] = [];
        let literal = "";
        const flush = () => {
          if (literal) parts.push(`"${literal}"`);
          literal = "";
        };
        for (const item of re.items) {
          const code =
            item.t === "set" && item.ranges.length === 1 && item.ranges[0]![0] === item.ranges[0]![1]
              ? item.ranges[0]![0]
              : undefined;
          if (code !== undefined && !(code >= 0xd800 && code <= 0xdfff)) {
            literal += RAW.some(([lo, hi]) => code >= lo && code <= hi)
              ? String.fromCodePoint(code).replace(/[\\"]/g, (c) => `\\${c}`)
              : jsonEscape(code);
          } else {
            flush();
            const part = this.emit(item);
            if (part) parts.push(part);
          }
        }
        flush();
        return parts.join(" ");
      }
      case "alt": {
        if (re.alts.length > this.options.maxAlternatives)
          throw new PatternError(
            `${re.alts.length} alternatives is more than this server allows in one place (${this.options.maxAlternatives})`,
            "schema_too_large",
          );
        const alts = re.alts.map((a) => this.emit(a) || '""');
        return `(${alts.join(" | ")})`;
      }
      case "repeat": {
        const { min, max } = re;
        const limit = this.options.maxRepeat;
        if (min > limit || (max !== undefined && max > limit))
          throw new PatternError(
            `a repetition count above ${limit}, the most this server allows: the grammar spells out every repetition`,
            "schema_too_large",
          );
        const inner = this.emit(re.item);
        if (inner === "" || max === 0) return "";
        const group = `(${inner})`;
        if (max === undefined) return min === 0 ? `${group}*` : min === 1 ? `${group}+` : `${group}{${min},}`;
        if (min === 0 && max === 1) return `${group}?`;
        return min === max ? `${group}{${min}}` : `${group}{${min},${max}}`;
      }
    }
  }
}
