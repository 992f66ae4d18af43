import { LlamaText, type Llama, type LlamaGrammar } from "node-llama-cpp";
import type { ApiError, ResponseFormat } from "@slm/config";
import {
  checkSchemaLimits,
  DEFAULT_GRAMMAR_LIMITS,
  type GrammarLimits,
  type SchemaPath,
  schemaError,
} from "./grammar-limits.ts";
import { withLiteralMarkers, withoutLiteralText } from "./grammar-literals.ts";
import { checkRefsAndChoices, type SchemaPlaces } from "./grammar-refs.ts";
import { jsonSchemaGbnf } from "./json-schema-gbnf.ts";

/**
 * `response_format` as a grammar the sampler enforces token by token: `json_object` uses llama.cpp's JSON grammar,
 * `json_schema` a grammar generated from the schema by node-llama-cpp. The promise is that every output parses and
 * validates against the schema, so a schema keyword the grammar cannot enforce (pattern, minimum, ...) is a 400, not
 * a silent hope. Where the grammar is stricter than the schema the output still validates: every declared property is
 * always present, no undeclared property is added, and `anyOf` is treated as "exactly one of".
 */

const PARAM = "response_format.json_schema.schema";
/** Annotations: they constrain nothing, so they are dropped. */
const ANNOTATIONS = new Set([
  "title",
  "description",
  "$schema",
  "$id",
  "$comment",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
]);
const ENFORCED = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "minProperties",
  "maxProperties",
  "enum",
  "const",
  "oneOf",
  "anyOf",
  "$ref",
  "$defs",
  "definitions",
  "format",
]);
const FORMATS = new Set(["date-time", "date", "time"]);
/** Keywords that constrain only values of one type (JSON Schema ignores them for the others). */
const TYPE_KEYWORDS: Record<string, readonly string[]> = {
  object: ["properties", "required", "additionalProperties", "minProperties", "maxProperties"],
  array: ["items", "prefixItems", "minItems", "maxItems"],
  string: ["minLength", "maxLength", "format"],
};
const TYPED = new Set(Object.values(TYPE_KEYWORDS).flat());
const SCALAR_TYPES = new Set(["string", "number", "integer", "boolean", "null"]);

export interface GrammarCacheOptions {
  llama: Llama;
  /** Distinct grammars kept compiled. Default 64. */
  maxEntries?: number;
  /** What a schema may ask of the grammar (see grammar-limits.ts). Default DEFAULT_GRAMMAR_LIMITS. */
  limits?: GrammarLimits | undefined;
}

/** A schema checked against the limits and converted (see toGbnfSchema), with its canonical text. */
export interface CheckedSchema {
  schema: Record<string, unknown>;
  /** The converted schema's JSON with its keywords sorted: schemas that differ in key order or annotations only share it. */
  key: string;
}

/**
 * Compiled grammars, the most recently used kept (an LRU keyed by the schema's canonical text, or by the caller's key
 * for assembled GBNF). A schema is checked against the limits on every request, before any lookup: a cached grammar
 * never lets an over-limit schema through, and the check is linear in the schema's size.
 */
export class GrammarCache {
  private readonly entries = new Map<string, Promise<LlamaGrammar>>();
  private readonly limits: GrammarLimits;
  constructor(private readonly options: GrammarCacheOptions) {
    this.limits = options.limits ?? DEFAULT_GRAMMAR_LIMITS;
  }

  /** The grammar for a response format, or undefined for plain text. Rejects with a 400 for schemas it cannot enforce. */
  async grammarFor(format: ResponseFormat | null | undefined): Promise<LlamaGrammar | undefined> {
    if (!format || format.type === "text") return undefined;
    const schema = format.type === "json_schema" ? format.json_schema.schema : undefined;
    if (schema === undefined) return this.cached("json_object", () => this.options.llama.getGrammarFor("json"));
    const checked = this.check(schema, PARAM);
    return this.cached(`schema:${checked.key}`, async () =>
      // node-llama-cpp's own JSON-schema grammar settings: four newlines end the answer, trailing whitespace trimmed.
      this.compile(await this.gbnfOf(checked), PARAM, {
        stopGenerationTriggers: [LlamaText(["\n".repeat(4)])],
        trimWhitespaceSuffix: true,
      }),
    );
  }

  /** Checks a schema against the limits and converts it; a 400 naming `param` and the path in the schema if it cannot. */
  check(schema: Record<string, unknown>, param: string): CheckedSchema {
    const converted = toGbnfSchema(schema, param, this.limits);
    return { schema: converted, key: canonicalText(converted) };
  }

  /**
   * The GBNF text for a JSON schema, checked as for `response_format` (a 400 naming `param` when it cannot be
   * enforced): for grammars that embed it (tool calls' arguments).
   */
  async schemaGbnf(schema: Record<string, unknown>, param: string): Promise<string> {
    return this.gbnfOf(this.check(schema, param));
  }

  /** node-llama-cpp's GBNF for a checked schema, its literals written as JSON writes them, its numbers bounded. */
  private async gbnfOf(checked: CheckedSchema): Promise<string> {
    const { schema, restore } = withLiteralMarkers(checked.schema);
    return boundedNumbers(restore(await jsonSchemaGbnf(schema)));
  }

  /** A grammar from GBNF text that `build` assembles, cached by `key`; `param` is named if llama.cpp refuses it. */
  fromGbnf(key: string, build: () => Promise<string>, param = "tools"): Promise<LlamaGrammar> {
    return this.cached(`gbnf:${key}`, async () => this.compile(await build(), param));
  }

  /**
   * llama.cpp's grammar for GBNF text (parsed on the event loop: the limits keep it to milliseconds). It is first
   * parsed without its literals (see withoutLiteralText), so that a grammar llama.cpp refuses is a 400, and what
   * llama.cpp prints about it holds no request text.
   */
  private async compile(
    gbnf: string,
    param: string,
    options: Omit<Parameters<Llama["createGrammar"]>[0], "grammar"> = {},
  ): Promise<LlamaGrammar> {
    try {
      await this.options.llama.createGrammar({ grammar: withoutLiteralText(gbnf) });
    } catch (error) {
      if (error instanceof Error && error.message === "Failed to parse grammar")
        throw schemaError(
          "unsupported_schema",
          param,
          [],
          "llama.cpp cannot build a grammar for it (most often: repetition bounds such as maxLength or maxItems too large for what they repeat); lower them",
        );
      throw error;
    }
    return this.options.llama.createGrammar({ grammar: gbnf, ...options });
  }

  private cached(key: string, create: () => Promise<LlamaGrammar>): Promise<LlamaGrammar> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-insert: most recently used last
    } else {
      entry = create();
      const created = entry;
      entry.catch(() => {
        if (this.entries.get(key) === created) this.entries.delete(key);
      });
    }
    this.entries.set(key, entry);
    const max = this.options.maxEntries ?? 64;
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= max) break;
      this.entries.delete(oldest);
    }
    return entry;
  }
}

const EXPONENT = '([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?';

/**
 * node-llama-cpp's number rules allow exponents of up to 16 digits: `1e999` is JSON that parses to Infinity (no
 * schema accepts it, and it serialises as null), and an integer with a negative exponent is no integer. Integers get
 * no exponent here, other numbers one of at most two digits. Throws if the generator's rules change shape, so a
 * node-llama-cpp upgrade cannot silently drop the bound.
 */
export function boundedNumbers(gbnf: string): string {
  let integers = 0;
  let fractions = 0;
  const lines = gbnf.split("\n").map((line) => {
    if (line.startsWith("integer-number-rule ::= ")) {
      integers++;
      return line.replace(` ${EXPONENT}`, "");
    }
    if (line.startsWith("fractional-number-rule ::= ")) {
      fractions++;
      return line.replace(EXPONENT, '([eE] [-+]? ("0" | [1-9] [0-9]?))?');
    }
    return line;
  });
  const bounded = lines.join("\n");
  if ((integers > 0 || fractions > 0) && bounded.includes(EXPONENT))
    throw new Error("node-llama-cpp's JSON number rules changed shape");
  return bounded;
}

/**
 * Checks a JSON schema against the limits (iteratively, before anything recurses), then keyword by keyword, and
 * rewrites it into the dialect node-llama-cpp's generator reads; then checks its references and the alternatives at
 * each place. Every refusal is a 400 naming `param`, the path in the schema, and the limit or the keyword.
 */
export function toGbnfSchema(
  schema: Record<string, unknown>,
  param = PARAM,
  limits: GrammarLimits = DEFAULT_GRAMMAR_LIMITS,
): Record<string, unknown> {
  checkSchemaLimits(schema, param, limits);
  const places = new Places();
  const context: Context = { param, places };
  const root = convert(schema, [], context);
  if (schema.$defs !== undefined && schema.definitions !== undefined)
    throw unenforceable(context, ["definitions"], "use $defs or definitions, not both");
  const key = schema.$defs !== undefined ? "$defs" : "definitions";
  const defs = schema[key];
  if (defs !== undefined) {
    if (!isObject(defs)) throw unenforceable(context, [key], "must be an object of schemas");
    root.$defs = Object.fromEntries(
      Object.entries(defs).map(([name, def]) => [name, convert(def, [key, name], context)]),
    );
  }
  delete root.definitions;
  checkRefsAndChoices(root, places, param, limits);
  return root;
}

interface Context {
  param: string;
  places: Places;
}

/** Where each converted node came from, for the messages of the checks that run on the converted schema. */
class Places implements SchemaPlaces {
  private readonly paths = new WeakMap<object, SchemaPath>();
  private readonly choices = new WeakMap<object, SchemaPath>();
  set(node: object, path: SchemaPath, choices?: SchemaPath): void {
    this.paths.set(node, path);
    if (choices) this.choices.set(node, choices);
  }
  pathOf(node: object): SchemaPath {
    return this.paths.get(node) ?? [];
  }
  choicesPathOf(node: object): SchemaPath {
    return this.choices.get(node) ?? this.pathOf(node);
  }
}

function convert(node: unknown, path: SchemaPath, context: Context): Record<string, unknown> {
  const out = convertNode(node, path, context);
  if (out !== undefined && context.places.pathOf(out).length === 0) context.places.set(out, path);
  return out;
}

function convertNode(node: unknown, path: SchemaPath, context: Context): Record<string, unknown> {
  const at = (...more: string[]) => [...path, ...more];
  if (node === true || (isObject(node) && Object.keys(node).every((k) => ANNOTATIONS.has(k)))) {
    // Any value. The generator has no "any" schema, so offer every type; nested values are any JSON.
    return {
      oneOf: [{ type: ["string", "number", "boolean", "null"] }, { type: "object", additionalProperties: true }],
    };
  }
  if (!isObject(node)) throw unenforceable(context, path, "must be a schema object");
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (ANNOTATIONS.has(key) || ((key === "$defs" || key === "definitions") && path.length === 0)) continue;
    if (key === "uniqueItems" && value === false) continue;
    if (!ENFORCED.has(key))
      throw unenforceable(context, path, `the keyword "${key}" cannot be enforced by the grammar`);
    out[key] = value;
  }
  if (out.format !== undefined && !FORMATS.has(String(out.format))) {
    throw unenforceable(
      context,
      path,
      `format "${String(out.format).slice(0, 64)}" cannot be enforced (supported: date-time, date, time)`,
    );
  }
  if (out.$ref !== undefined) {
    const ref = typeof out.$ref === "string" ? out.$ref.replace(/^#\/definitions\//, "#/$defs/") : "";
    if (!ref.startsWith("#/$defs/"))
      throw unenforceable(context, at("$ref"), "only local references to #/$defs/... are supported");
    out.$ref = ref;
  }
  let choices: SchemaPath | undefined;
  if (out.anyOf !== undefined) {
    if (out.oneOf !== undefined)
      throw unenforceable(context, at("anyOf"), "anyOf and oneOf together cannot be enforced");
    out.oneOf = out.anyOf;
    delete out.anyOf;
    choices = at("anyOf");
  } else if (out.oneOf !== undefined) choices = at("oneOf");
  if (out.oneOf !== undefined) {
    if (!Array.isArray(out.oneOf) || out.oneOf.length === 0)
      throw unenforceable(context, choices!, "must be a non-empty array of schemas");
    const list = choices!;
    out.oneOf = out.oneOf.map((alt, i) => convert(alt, [...list, String(i)], context));
  }

  const types = out.type === undefined ? undefined : Array.isArray(out.type) ? (out.type as unknown[]) : [out.type];
  if (types && types.length > 1 && types.some((t) => t === "object" || t === "array")) {
    // The generator reads a type list only for scalars: split it into one alternative per type, each with the
    // keywords that apply to its type (paths stay those of the node: the keywords are its own).
    const alternative = (type: unknown) =>
      Object.fromEntries([
        ["type", type],
        ...Object.entries(out).filter(
          ([k]) => k !== "type" && (!TYPED.has(k) || (TYPE_KEYWORDS[String(type)] ?? []).includes(k)),
        ),
      ]);
    const split = { oneOf: types.map((t) => convert(alternative(t), path, context)) };
    context.places.set(split, path, at("type"));
    return split;
  }
  for (const t of types ?? []) {
    if (typeof t !== "string" || (!SCALAR_TYPES.has(t) && t !== "object" && t !== "array")) {
      throw unenforceable(context, at("type"), "must be string, number, integer, boolean, null, object or array");
    }
  }
  if (
    types === undefined &&
    out.enum === undefined &&
    out.const === undefined &&
    out.oneOf === undefined &&
    out.$ref === undefined
  ) {
    throw unenforceable(context, path, "needs a type, enum, const, anyOf/oneOf or $ref");
  }

  if (out.properties !== undefined) {
    if (!isObject(out.properties)) throw unenforceable(context, at("properties"), "must be an object of schemas");
    out.properties = Object.fromEntries(
      Object.entries(out.properties).map(([name, prop]) => [name, convert(prop, at("properties", name), context)]),
    );
  }
  if (out.required !== undefined) {
    const declared = isObject(out.properties) ? Object.keys(out.properties) : [];
    if (!Array.isArray(out.required)) throw unenforceable(context, at("required"), "must be an array of names");
    const missing = out.required.find((r) => !declared.includes(String(r)));
    if (missing !== undefined)
      throw unenforceable(
        context,
        at("required"),
        `required property "${String(missing).slice(0, 64)}" is not declared in properties`,
      );
  }
  if (isObject(out.additionalProperties))
    out.additionalProperties = convert(out.additionalProperties, at("additionalProperties"), context);
  else if (out.additionalProperties !== undefined && typeof out.additionalProperties !== "boolean")
    throw unenforceable(context, at("additionalProperties"), "must be a schema or a boolean");
  if (out.items !== undefined) out.items = convert(out.items, at("items"), context);
  if (out.prefixItems !== undefined) {
    if (!Array.isArray(out.prefixItems)) throw unenforceable(context, at("prefixItems"), "must be an array of schemas");
    out.prefixItems = out.prefixItems.map((item, i) => convert(item, at("prefixItems", String(i)), context));
  }
  context.places.set(out, path, choices);
  return out;
}

/** The schema's JSON with the keywords of every node sorted (property order is kept: the grammar writes it). */
function canonicalText(node: unknown): string {
  if (Array.isArray(node)) return `[${node.map(canonicalText).join(",")}]`;
  if (!isObject(node)) return JSON.stringify(node);
  const fields = Object.keys(node)
    .sort()
    .map((key) => {
      const value = node[key];
      const text =
        (key === "properties" || key === "$defs") && isObject(value)
          ? `{${Object.entries(value)
              .map(([name, schema]) => `${JSON.stringify(name)}:${canonicalText(schema)}`)
              .join(",")}}`
          : canonicalText(value);
      return `${JSON.stringify(key)}:${text}`;
    });
  return `{${fields.join(",")}}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unenforceable(context: Context, path: SchemaPath, reason: string): ApiError {
  return schemaError("unsupported_schema", context.param, path, reason);
}
