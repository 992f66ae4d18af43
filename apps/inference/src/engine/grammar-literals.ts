/**
 * GBNF literals: how a string is written inside one, and the grammar text with the request's text taken out of
 * literals and character classes, for llama.cpp's first parse (see withoutLiteralText).
 */

/** Text for the inside of a GBNF string literal. `text` holds no control character (it is JSON text). */
export function gbnfEscape(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`);
}

/**
 * The grammar with the inside of every string literal replaced by "x" (an empty one stays empty, so whether a rule
 * can match nothing is unchanged) and of every character class by "x" (negated ones stay negated): the same rules,
 * alternatives and repetitions, so llama.cpp parses it exactly when it parses the original (the converter writes
 * every class with canonical escapes, so no class fails to parse). llama.cpp prints a grammar it fails to parse,
 * whole, to stderr (a direct fprintf, past any logger), and literals and classes are what holds request text (enum
 * values, property names, function names, patterns); rule names are neutral. Parsing this first keeps request text
 * out of the logs.
 */
export function withoutLiteralText(gbnf: string): string {
  let out = "";
  let i = 0;
  while (i < gbnf.length) {
    const char = gbnf[i]!;
    if (char === "[") {
      // A character class (it may hold a `"`).
      let j = i + 1;
      while (j < gbnf.length && gbnf[j] !== "]") j += gbnf[j] === "\\" ? 2 : 1;
      out += gbnf[i + 1] === "^" ? "[^x]" : "[x]";
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
