import { ApiError } from "@slm/config";

/**
 * What one JSON schema may ask of the grammar built from it. llama.cpp's cost is not the schema's size: it expands
 * every `{m,n}` repetition into n rules (and fails past 2000), and keeps one parse stack per alternative that can
 * start at a position, deduplicated in quadratic time, when it builds the grammar (on the event loop) and at every
 * token (holding up the decoding step of every running generation). A 50,000-value enum stalled a server for 20 s.
 * Each limit is a 400 naming the schema path and the limit; all are checked before anything recursive runs.
 */
export interface GrammarLimits {
  /** Compact JSON text of one schema, annotations included (GRAMMAR_MAX_SCHEMA_BYTES). */
  maxSchemaBytes: number;
  /** Nesting of subschemas, the root being level 1 (GRAMMAR_MAX_DEPTH). */
  maxDepth: number;
  /** Values one place may take from enum, const and anyOf/oneOf choices, counted through $ref (GRAMMAR_MAX_ENUM). */
  maxEnum: number;
  /** minLength, maxLength, minItems, maxItems, minProperties, maxProperties (GRAMMAR_MAX_REPEAT). */
  maxRepeat: number;
}

export const DEFAULT_GRAMMAR_LIMITS: Readonly<GrammarLimits> = {
  maxSchemaBytes: 65_536,
  maxDepth: 32,
  maxEnum: 1000,
  maxRepeat: 500,
};

/** Declared properties in one schema, all objects together: the grammar writes every one. */
export const MAX_PROPERTIES = 1000;

const REPEATS = ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"] as const;
const BOUNDS: ReadonlyArray<readonly [string, string]> = [
  ["minLength", "maxLength"],
  ["minItems", "maxItems"],
  ["minProperties", "maxProperties"],
];
/** Keywords holding one subschema, and those holding a list of them. */
const CHILD = ["items", "additionalProperties", "additionalItems", "propertyNames"] as const;
const CHILDREN = ["prefixItems", "items", "anyOf", "oneOf", "allOf"] as const;

/** A schema path: the request parameter holding the schema, then the keywords and names down to a place in it. */
export type SchemaPath = readonly string[];

/** The path as the messages show it: `response_format.json_schema.schema.properties.name.maxLength`. */
export function showPath(param: string, path: SchemaPath): string {
  return param + path.map((segment) => `.${segment.length > 64 ? `${segment.slice(0, 61)}...` : segment}`).join("");
}

/** A schema this server will not build a grammar for: over a limit (`schema_too_large`) or unsupported. */
export function schemaError(
  code: "schema_too_large" | "unsupported_schema",
  param: string,
  path: SchemaPath,
  reason: string,
): ApiError {
  return new ApiError(400, "invalid_request_error", code, `${showPath(param, path)}: ${reason}.`, param);
}

/**
 * Checks a raw schema against the limits, iteratively (a 5,000-deep schema is refused at its 33rd level, before
 * anything recurses): nesting, enum sizes and values, declared properties, repetition bounds, `$defs` placement,
 * then the size of its JSON text. Throws the first problem as a 400.
 */
export function checkSchemaLimits(schema: unknown, param: string, limits: GrammarLimits): void {
  const stack: Array<{ node: unknown; path: SchemaPath; depth: number }> = [{ node: schema, path: [], depth: 1 }];
  let properties = 0;
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (!isObject(node)) continue; // `true`, or not a schema: the conversion says which
    if (depth > limits.maxDepth)
      throw schemaError(
        "schema_too_large",
        param,
        path,
        `nested more than ${limits.maxDepth} levels deep, the most this server allows`,
      );
    const at = (...more: string[]) => [...path, ...more];

    if (node.enum !== undefined) {
      if (!Array.isArray(node.enum) || node.enum.length === 0)
        throw schemaError("unsupported_schema", param, at("enum"), "must be a non-empty array");
      if (node.enum.length > limits.maxEnum)
        throw schemaError(
          "schema_too_large",
          param,
          at("enum"),
          `${node.enum.length} values is more than this server allows in one place (${limits.maxEnum})`,
        );
      for (const [i, value] of node.enum.entries()) checkLiteral(value, param, at("enum", String(i)));
    }
    if (node.const !== undefined) checkLiteral(node.const, param, at("const"));

    for (const keyword of REPEATS) {
      const value = node[keyword];
      if (value === undefined) continue;
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
        throw schemaError("unsupported_schema", param, at(keyword), "must be a non-negative integer");
      // Beside a pattern or a format, string lengths only check or narrow their grammar (whose own repetitions are
      // checked against the limit where they are built).
      const shaped = node.pattern !== undefined || node.format !== undefined;
      if (value > limits.maxRepeat && !(shaped && (keyword === "minLength" || keyword === "maxLength")))
        throw schemaError(
          "schema_too_large",
          param,
          at(keyword),
          `${value} is more than this server allows (${limits.maxRepeat}): the grammar spells out every repetition`,
        );
    }
    for (const [low, high] of BOUNDS) {
      if (typeof node[low] === "number" && typeof node[high] === "number" && node[low] > node[high])
        throw schemaError("unsupported_schema", param, at(low), `is more than ${high}: no value satisfies both`);
    }

    if (node.properties !== undefined && isObject(node.properties)) {
      const names = Object.keys(node.properties);
      properties += names.length;
      if (properties > MAX_PROPERTIES)
        throw schemaError(
          "schema_too_large",
          param,
          at("properties"),
          `more than ${MAX_PROPERTIES} declared properties in one schema, the most this server allows`,
        );
      const required = Array.isArray(node.required) ? node.required.filter((r) => names.includes(String(r))) : [];
      if (typeof node.maxProperties === "number" && node.maxProperties < required.length)
        throw schemaError(
          "unsupported_schema",
          param,
          at("maxProperties"),
          `is less than the ${required.length} required properties: no value satisfies both`,
        );
      for (const name of names)
        stack.push({ node: node.properties[name], path: at("properties", name), depth: depth + 1 });
    }
    for (const keyword of CHILD) {
      if (node[keyword] !== undefined) stack.push({ node: node[keyword], path: at(keyword), depth: depth + 1 });
    }
    for (const keyword of CHILDREN) {
      const list = node[keyword];
      if (Array.isArray(list))
        for (const [i, child] of list.entries())
          stack.push({ node: child, path: at(keyword, String(i)), depth: depth + 1 });
    }
    for (const keyword of ["$defs", "definitions"]) {
      const defs = node[keyword];
      if (defs === undefined) continue;
      if (path.length > 0)
        throw schemaError("unsupported_schema", param, at(keyword), "is supported at the root of the schema only");
      if (isObject(defs))
        for (const name of Object.keys(defs))
          stack.push({ node: defs[name], path: at(keyword, name), depth: depth + 1 });
    }
  }

  const bytes = jsonBytes(schema, limits.maxSchemaBytes);
  if (bytes > limits.maxSchemaBytes)
    throw schemaError(
      "schema_too_large",
      param,
      [],
      `more than ${limits.maxSchemaBytes} bytes of JSON, the most this server allows for one schema`,
    );
}

/** A const or enum value the grammar can write: a string, a finite number, a boolean or null. */
function checkLiteral(value: unknown, param: string, path: SchemaPath): void {
  // Any JSON value is written as its compact JSON text (arrays and objects too, as llama.cpp does).
  if (typeof value === "number" && !Number.isFinite(value))
    throw schemaError("unsupported_schema", param, path, "must be a JSON value (a finite number)");
}

/**
 * The UTF-8 length of `JSON.stringify(value)` (compact), counted iteratively; stops counting once past `stopAbove`
 * (the result is then some number above it). Any depth is safe.
 */
export function jsonBytes(value: unknown, stopAbove = Number.POSITIVE_INFINITY): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && total <= stopAbove) {
    const node = stack.pop();
    if (typeof node === "string") total += Buffer.byteLength(JSON.stringify(node));
    else if (typeof node === "number") total += Number.isFinite(node) ? String(node).length : 4;
    else if (typeof node === "boolean") total += node ? 4 : 5;
    else if (node === null) total += 4;
    else if (Array.isArray(node)) {
      total += 2 + Math.max(0, node.length - 1);
      for (const item of node) stack.push(item === undefined || typeof item === "function" ? null : item);
    } else if (typeof node === "object") {
      const entries = Object.entries(node).filter(([, v]) => v !== undefined && typeof v !== "function");
      total += 2 + Math.max(0, entries.length - 1);
      for (const [key, item] of entries) {
        total += Buffer.byteLength(JSON.stringify(key)) + 1;
        stack.push(item);
      }
    }
  }
  return total;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
