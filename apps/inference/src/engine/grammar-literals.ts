import { randomBytes } from "node:crypto";

/**
 * The strings of a schema that become GBNF literals (const and enum values, property names), and the GBNF text
 * itself where llama.cpp could print it.
 *
 * node-llama-cpp's generator escapes `\`, `"`, tab, CR and LF and writes every other character as is: a NUL cuts
 * the grammar text (llama.cpp reads a C string) and another control character is asked of the model raw, which is
 * no JSON. Such strings go through the generator as markers, and each marker's literal is then replaced by the
 * string as JSON writes it (`JSON.stringify`: `\u0000`, `\b`, and lone surrogates as `\udxxx`), escaped for GBNF.
 */

/** Control characters other than tab, LF and CR; lone surrogates. */
const NEEDS_JSON_ESCAPES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

type Node = Record<string, unknown>;

/**
 * A copy of a converted schema with markers for the strings the generator would write wrongly, and `restore`, which
 * puts each string back into the generated GBNF as JSON writes it. Without such strings: the schema itself.
 */
export function withLiteralMarkers(schema: Node): { schema: Node; restore(gbnf: string): string } {
  const nonce = randomBytes(8).toString("hex");
  const markers = new Map<string, string>(); // string -> its marker
  const mark = (value: string): string => {
    if (!NEEDS_JSON_ESCAPES.test(value)) return value;
    let marker = markers.get(value);
    if (marker === undefined) {
      marker = `slmliteral${nonce}n${markers.size}`;
      markers.set(value, marker);
    }
    return marker;
  };
  const copy = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(copy);
    if (typeof node === "string") return mark(node);
    if (typeof node !== "object" || node === null) return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => {
        if (key === "properties" && isObject(value))
          return [key, Object.fromEntries(Object.entries(value).map(([name, prop]) => [mark(name), copy(prop)]))];
        if (key === "required" && Array.isArray(value))
          return [key, value.map((n) => (typeof n === "string" ? mark(n) : n))];
        if (key === "const" || key === "enum") return [key, copy(value)];
        if (typeof value === "string") return [key, value]; // keyword values: types, formats, references
        return [key, copy(value)];
      }),
    );
  };
  const marked = copy(schema) as Node;
  if (markers.size === 0) return { schema, restore: (gbnf) => gbnf };
  return {
    schema: marked,
    restore(gbnf) {
      let out = gbnf;
      // The generator writes a string value as the GBNF literal of its JSON text: `"\"` value `\""`.
      for (const [value, marker] of markers) out = out.replaceAll(`\\"${marker}\\"`, gbnfEscape(JSON.stringify(value)));
      return out;
    },
  };
}

/** Text for the inside of a GBNF string literal. `text` holds no control character (it is JSON text). */
export function gbnfEscape(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`);
}

/**
 * The grammar with the inside of every string literal replaced by "x" (an empty one stays empty, so whether a rule
 * can match nothing is unchanged): the same rules, alternatives and repetitions, so llama.cpp parses it exactly when
 * it parses the original. llama.cpp prints a grammar it fails to parse, whole, to stderr (a direct fprintf, past any
 * logger), and the literals are what holds request text (enum values, property names, function names); rule names
 * and character classes are the generator's own. Parsing this first keeps request text out of the logs.
 */
export function withoutLiteralText(gbnf: string): string {
  let out = "";
  let i = 0;
  while (i < gbnf.length) {
    const char = gbnf[i]!;
    if (char === "[") {
      // A character class, copied as is (it may hold a `"`).
      let j = i + 1;
      while (j < gbnf.length && gbnf[j] !== "]") j += gbnf[j] === "\\" ? 2 : 1;
      out += gbnf.slice(i, j + 1);
      i = j + 1;
    } else if (char === '"') {
      let j = i + 1;
      while (j < gbnf.length && gbnf[j] !== '"') j += gbnf[j] === "\\" ? 2 : 1;
      out += j === i + 1 ? '""' : '"x"';
      i = j + 1;
    } else if (char === "#") {
      // A comment, to the end of the line.
      while (i < gbnf.length && gbnf[i] !== "\n") i++;
    } else {
      out += char;
      i++;
    }
  }
  return out;
}

function isObject(value: unknown): value is Node {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
