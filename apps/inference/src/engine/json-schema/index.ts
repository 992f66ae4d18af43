/**
 * JSON schema to GBNF, written here rather than taken from a library: no maintained npm package converts JSON
 * Schema to llama.cpp's GBNF with the coverage real clients need (node-llama-cpp's generator reads its own dialect
 * and refuses bounds, patterns and formats). The reference for behaviour is llama.cpp's own converter,
 * common/json-schema-to-grammar.cpp with common/json-schema.cpp (in node-llama-cpp's bundled source); the code is
 * our own, in four steps: the limits (grammar-limits.ts), reading the schema into nodes (convert.ts: where llama.cpp
 * would accept a schema but not enforce it - a pattern it cannot express, day 31 in February, an unanchored
 * pattern - this is stricter or refuses with a 400), the checks that need references resolved (grammar-refs.ts), and
 * writing the rules (emit.ts, with ranges.ts for bounded numbers, regex.ts for patterns, formats.ts for formats).
 */
import { checkSchemaLimits, type GrammarLimits } from "../grammar-limits.ts";
import { checkRefsAndChoices } from "../grammar-refs.ts";
import { convertSchema } from "./convert.ts";
import { emitGrammar } from "./emit.ts";

export { STOP_TRAILER } from "./emit.ts";

/**
 * The GBNF for a JSON schema: its root rule writes one value the schema accepts, then node-llama-cpp's four
 * newlines. Throws a 400 ApiError naming `param` and the path in the schema for what it cannot enforce or what is
 * over the limits.
 */
export function jsonSchemaToGbnf(schema: unknown, param: string, limits: GrammarLimits): string {
  checkSchemaLimits(schema, param, limits);
  const converted = convertSchema(schema, param, limits);
  checkRefsAndChoices(converted, param, limits);
  return emitGrammar(converted);
}
