import { gbnfEscape } from "../grammar-literals.ts";
import type { Converted } from "./convert.ts";
import type { Node } from "./nodes.ts";

/**
 * Nodes to GBNF text, in llama.cpp's shapes: its `space` (bounded whitespace), `char`, primitive and `value` rules,
 * optional properties as chains of optional `"," kv` pieces, `{m,n}` repetitions for lengths and item counts.
 * Rule names are neutral (`obj3`, `kv7`): no request text in them. Identical rule bodies share one rule. The root
 * ends with node-llama-cpp's four newlines (its stop trigger for JSON grammars; see grammar.ts and tool-grammar.ts).
 */

const PRIMITIVES: Record<string, { body: string; deps: string[] }> = {
  space: { body: String.raw`| " " | "\n"{1,2} [ \t]{0,20}`, deps: [] },
  // A JSON string character; a \u escape never names a surrogate (a lone one is no character, a pair counts two).
  char: {
    body: String.raw`[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" ([0-9a-cA-CefEF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}))`,
    deps: [],
  },
  // A character of an undeclared property's name: no escapes, so that no name is written as another's escape.
  kchar: { body: String.raw`[^"\\\x7F\x00-\x1F]`, deps: [] },
  string: { body: String.raw`"\"" char* "\""`, deps: ["char"] },
  integer: { body: String.raw`"-"? ([0] | [1-9] [0-9]{0,15})`, deps: [] },
  // At most two exponent digits: 1e999 is JSON that parses to Infinity.
  number: {
    body: String.raw`"-"? ([0] | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? ([0] | [1-9] [0-9]?))?`,
    deps: [],
  },
  boolean: { body: String.raw`"true" | "false"`, deps: [] },
  null: { body: String.raw`"null"`, deps: [] },
  value: {
    body: "object | array | string | number | boolean | null",
    deps: ["object", "array", "string", "number", "boolean", "null"],
  },
  object: {
    body: String.raw`"{" space (string space ":" space value ("," space string space ":" space value)* space)? "}"`,
    deps: ["space", "string", "value"],
  },
  array: { body: String.raw`"[" space (value ("," space value)* space)? "]"`, deps: ["space", "value"] },
};

export const STOP_TRAILER = String.raw`"\n\n\n\n" [\n]*`;

export function emitGrammar(converted: Converted): string {
  const out = new Emitter(converted);
  const root = out.emit(converted.root);
  return out.text(`${root} ${STOP_TRAILER}`);
}

class Emitter {
  private readonly rules = new Map<string, string>();
  private readonly byBody = new Map<string, string>();
  private readonly refNames = new Map<string, string>();
  private next = 0;
  constructor(private readonly converted: Converted) {}

  text(root: string): string {
    return [`root ::= ${root}`, ...[...this.rules].map(([name, body]) => `${name} ::= ${body}`)].join("\n");
  }

  private primitive(name: string): string {
    if (!this.rules.has(name)) {
      const p = PRIMITIVES[name]!;
      this.rules.set(name, p.body);
      for (const dep of p.deps) this.primitive(dep);
    }
    return name;
  }

  /** A rule for `body` (one already holding it if any). */
  private add(hint: string, body: string): string {
    const existing = this.byBody.get(body);
    if (existing !== undefined) return existing;
    const name = `${hint}${this.next++}`;
    this.rules.set(name, body);
    this.byBody.set(body, name);
    return name;
  }

  /** Rules that formats and patterns name (date, time, char...). */
  private named(rules: Record<string, string> | undefined, expr: string): void {
    for (const [name, body] of Object.entries(rules ?? {})) if (!this.rules.has(name)) this.rules.set(name, body);
    if (/(^|[\s(])char([\s)*+?{]|$)/.test(expr)) this.primitive("char");
  }

  emit(node: Node): string {
    switch (node.kind) {
      case "any":
        return this.primitive("value");
      case "ref": {
        let name = this.refNames.get(node.pointer);
        if (name === undefined) {
          name = `ref${this.next++}`;
          this.refNames.set(node.pointer, name);
          this.rules.set(name, ""); // reserved: the target may refer back to it
          this.rules.set(name, this.emit(this.converted.refs.get(node.pointer)!));
        }
        return name;
      }
      case "anyOf":
        return this.add("alt", node.alts.map((alt) => this.emit(alt)).join(" | "));
      case "literal": {
        const values = node.values.map((v) => `"${gbnfEscape(JSON.stringify(v))}"`);
        return values.length === 1 ? values[0]! : this.add("lit", values.join(" | "));
      }
      case "null":
      case "boolean":
        return this.primitive(node.kind);
      case "integer":
      case "number":
        return node.range === undefined
          ? this.primitive(node.kind)
          : this.add(node.kind === "integer" ? "int" : "num", node.range);
      case "string": {
        if (node.expr !== undefined) {
          this.named(node.rules, node.expr);
          return this.add("str", node.expr);
        }
        if (node.minLength === 0 && node.maxLength === undefined) return this.primitive("string");
        const chars = repeat(this.primitive("char"), node.minLength, node.maxLength);
        return this.add("str", chars ? String.raw`"\"" ${chars} "\""` : String.raw`"\"\""`);
      }
      case "array":
        return this.array(node);
      case "object":
        return this.object(node);
    }
  }

  private array(node: Extract<Node, { kind: "array" }>): string {
    const { prefix, items, minRest, maxRest } = node;
    if (prefix.length === 0 && items?.kind === "any" && minRest === 0 && maxRest === undefined)
      return this.primitive("array");
    const space = this.primitive("space");
    let body = "";
    let empty: boolean;
    const item = items === undefined || maxRest === 0 ? undefined : this.emit(items);
    if (prefix.length > 0) {
      body = prefix.map((p, i) => (i === 0 ? this.emit(p) : `"," ${space} ${this.emit(p)}`)).join(" ");
      if (item !== undefined) body += ` ${repeat(`("," ${space} ${item})`, minRest, maxRest)}`.trimEnd();
      empty = false;
    } else if (item !== undefined) {
      const more = repeat(
        `("," ${space} ${item})`,
        Math.max(0, minRest - 1),
        maxRest === undefined ? undefined : maxRest - 1,
      );
      body = more ? `${item} ${more}` : item;
      empty = minRest === 0;
    } else empty = true;
    if (body === "") return this.add("arr", `"[" ${space} "]"`);
    return this.add("arr", empty ? `"[" ${space} (${body} ${space})? "]"` : `"[" ${space} ${body} ${space} "]"`);
  }

  private object(node: Extract<Node, { kind: "object" }>): string {
    const { props, additional, keys, minAdditional, maxAdditional } = node;
    if (props.length === 0 && additional?.kind === "any" && !keys && minAdditional === 0 && maxAdditional === undefined)
      return this.primitive("object");
    const space = this.primitive("space");
    const kv = (key: string, value: string) => this.add("kv", `${key} ${space} ":" ${space} ${value}`);
    type Piece = { kv: string; min: number; max: number | undefined };
    const pieces: Piece[] = props.map((p) => ({
      kv: kv(`"${gbnfEscape(JSON.stringify(p.name))}"`, this.emit(p.node)),
      min: p.required ? 1 : 0,
      max: 1,
    }));
    if (additional !== undefined && maxAdditional !== 0) {
      const key = keys
        ? this.emit(keys)
        : props.length === 0
          ? this.primitive("string")
          : this.notNames(props.map((p) => p.name));
      pieces.push({ kv: kv(key, this.emit(additional)), min: minAdditional, max: maxAdditional });
    }
    // After something was written: each piece preceded by a comma, chained from the end.
    const after: string[] = new Array(pieces.length + 1).fill("");
    for (let i = pieces.length - 1; i >= 1; i--) {
      const { kv: k, min, max } = pieces[i]!;
      const piece = repeat(`("," ${space} ${k})`, min, max);
      const body = [piece, after[i + 1]].filter(Boolean).join(" ");
      after[i] = body === "" ? "" : this.add("rest", body);
    }
    // Nothing written yet: the first piece written is one of the optional ones up to the first required one.
    const starts: string[] = [];
    let empty = true;
    for (const [i, { kv: k, min, max }] of pieces.entries()) {
      const more = repeat(`("," ${space} ${k})`, Math.max(0, min - 1), max === undefined ? undefined : max - 1);
      starts.push([k, more, after[i + 1]].filter(Boolean).join(" "));
      if (min > 0) {
        empty = false;
        break;
      }
    }
    if (starts.length === 0) return this.add("obj", `"{" ${space} "}"`);
    const first = starts.length === 1 ? starts[0]! : this.add("first", starts.join(" | "));
    return this.add("obj", empty ? `"{" ${space} (${first} ${space})? "}"` : `"{" ${space} ${first} ${space} "}"`);
  }

  /**
   * A property name (a JSON string, no escapes) that is none of `names` (llama.cpp's `_not_strings`, over a trie of
   * the names; here a prefix of a name that is no name itself may end the key too).
   */
  private notNames(names: string[]): string {
    type Trie = { end: boolean; children: Map<number, Trie> };
    const root: Trie = { end: false, children: new Map() };
    for (const name of names) {
      let at = root;
      for (const char of name) {
        const code = char.codePointAt(0)!;
        let child = at.children.get(code);
        if (!child) at.children.set(code, (child = { end: false, children: new Map() }));
        at = child;
      }
      at.end = true;
    }
    const kchar = this.primitive("kchar");
    const plain = (code: number) => code >= 0x20 && code !== 0x22 && code !== 0x5c && code !== 0x7f;
    const visit = (node: Trie): string => {
      if (node.children.size === 0) return `${kchar}+`;
      const alts: string[] = [];
      for (const [code, child] of node.children)
        if (plain(code)) alts.push(`[${classChar(code)}] ${visit(child)}`.trimEnd());
      const rejects = [...node.children.keys()].filter(plain).map(classChar).join("");
      alts.push(`${String.raw`[^"\\\x7F\x00-\x1F`}${rejects}] ${kchar}*`);
      const group = `(${alts.join(" | ")})`;
      return node.end ? group : `${group}?`;
    };
    return this.add("key", String.raw`"\"" ` + visit(root) + String.raw` "\""`);
  }
}

/** `item` repeated min to max times (max undefined: unbounded), as llama.cpp's build_repetition; "" for none. */
function repeat(item: string, min: number, max: number | undefined): string {
  if (max === 0) return "";
  if (min === 0 && max === 1) return `${item}?`;
  if (max === undefined) return min === 0 ? `${item}*` : min === 1 ? `${item}+` : `${item}{${min},}`;
  if (min === 1 && max === 1) return item;
  return min === max ? `${item}{${min}}` : `${item}{${min},${max}}`;
}

function classChar(code: number): string {
  if (/[A-Za-z0-9]/.test(String.fromCodePoint(code))) return String.fromCodePoint(code);
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\U${code.toString(16).padStart(8, "0")}`;
}
