import * as v from "valibot";

/**
 * How deep JSON may nest. `JSON.parse` handles any depth, but what walks the result afterwards - `JSON.stringify`, a
 * schema validator, a template engine, a grammar builder - recurses and throws a RangeError past a few thousand
 * levels. Both checks here are iterative, so they are safe on any input and run before anything recursive does.
 */

/** Nesting allowed inside a free-form JSON value of a request (tool parameters, `chat_template_kwargs`). */
export const MAX_JSON_VALUE_DEPTH = 64;

/**
 * Whether JSON text nests deeper than `maxDepth` arrays/objects, by counting brackets outside strings (one pass, no
 * recursion, no parse). Text that is not JSON is not judged: the parser refuses it afterwards. `{}` has depth 1.
 */
export function jsonTextDeeperThan(text: string, maxDepth: number): boolean {
  // Reaching depth d takes at least d characters.
  if (text.length <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x5b /* [ */ || ch === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (ch === 0x5d /* ] */ || ch === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/** Whether a parsed value nests deeper than `maxDepth` arrays/objects (iterative; stops as soon as it knows). */
export function jsonValueDeeperThan(value: unknown, maxDepth: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node))
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/** A valibot check on a JSON object: it nests at most `maxDepth` levels (the object itself is level 1). */
export const maxJsonDepth = (maxDepth = MAX_JSON_VALUE_DEPTH) =>
  v.check<Record<string, unknown>, string>(
    (value) => !jsonValueDeeperThan(value, maxDepth),
    `at most ${maxDepth} levels of nested objects and arrays`,
  );
