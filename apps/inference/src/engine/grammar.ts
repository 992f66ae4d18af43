import { LlamaText, type Llama, type LlamaGrammar } from "node-llama-cpp";
import { ApiError, type ResponseFormat } from "@slm/config";

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
  /** Distinct schemas kept compiled. Default 64. */
  maxEntries?: number;
}

export class GrammarCache {
  private readonly entries = new Map<string, Promise<LlamaGrammar>>();
  constructor(private readonly options: GrammarCacheOptions) {}

  /** The grammar for a response format, or undefined for plain text. Rejects with a 400 for schemas it cannot enforce. */
  async grammarFor(format: ResponseFormat | null | undefined): Promise<LlamaGrammar | undefined> {
    if (!format || format.type === "text") return undefined;
    const schema = format.type === "json_schema" ? format.json_schema.schema : undefined;
    if (schema === undefined) return this.cached("json_object", () => this.options.llama.getGrammarFor("json"));
    const converted = toGbnfSchema(schema);
    return this.cached(JSON.stringify(converted), async () =>
      // node-llama-cpp's own JSON-schema grammar settings: four newlines end the answer, trailing whitespace trimmed.
      this.options.llama.createGrammar({
        grammar: await this.gbnfOf(converted),
        stopGenerationTriggers: [LlamaText(["\n".repeat(4)])],
        trimWhitespaceSuffix: true,
      }),
    );
  }

  /**
   * The GBNF text for a JSON schema, checked keyword by keyword as for `response_format` (a 400 naming `param` when
   * it cannot be enforced): for grammars that embed it (tool calls' arguments).
   */
  async schemaGbnf(schema: Record<string, unknown>, param: string): Promise<string> {
    return this.gbnfOf(toGbnfSchema(schema, param));
  }

  /** node-llama-cpp's GBNF for a checked schema, with its number rules bounded (see boundedNumbers). */
  private async gbnfOf(converted: Record<string, unknown>): Promise<string> {
    // The schema was checked keyword by keyword; the generator's static type cannot follow a runtime value.
    const schema = converted as unknown as Parameters<Llama["createGrammarForJsonSchema"]>[0];
    return boundedNumbers((await this.options.llama.createGrammarForJsonSchema(schema)).grammar);
  }

  /** A grammar from GBNF text that `build` assembles, cached by `key`. */
  fromGbnf(key: string, build: () => Promise<string>): Promise<LlamaGrammar> {
    return this.cached(`gbnf:${key}`, async () => this.options.llama.createGrammar({ grammar: await build() }));
  }

  private cached(key: string, create: () => Promise<LlamaGrammar>): Promise<LlamaGrammar> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-insert: most recently used last
    } else {
      entry = create();
      entry.catch(() => this.entries.delete(key));
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

/** Checks a JSON schema keyword by keyword and rewrites it into the dialect node-llama-cpp's generator reads. */
export function toGbnfSchema(schema: Record<string, unknown>, param = PARAM): Record<string, unknown> {
  const defs = (schema.$defs ?? schema.definitions) as Record<string, unknown> | undefined;
  let root: Record<string, unknown>;
  try {
    root = convert(schema, "schema");
    if (defs !== undefined) {
      if (!isObject(defs)) throw unenforceable("$defs", "must be an object of schemas");
      root.$defs = Object.fromEntries(Object.entries(defs).map(([name, def]) => [name, convert(def, `$defs.${name}`)]));
    }
  } catch (error) {
    if (error instanceof ApiError && param !== PARAM)
      throw new ApiError(
        400,
        "invalid_request_error",
        "unsupported_schema",
        error.message.replace(PARAM, param),
        param,
      );
    throw error;
  }
  delete root.definitions;
  return root;
}

function convert(node: unknown, path: string): Record<string, unknown> {
  if (node === true || (isObject(node) && Object.keys(node).every((k) => ANNOTATIONS.has(k)))) {
    // Any value. The generator has no "any" schema, so offer every type; nested values are any JSON.
    return {
      oneOf: [{ type: ["string", "number", "boolean", "null"] }, { type: "object", additionalProperties: true }],
    };
  }
  if (!isObject(node)) throw unenforceable(path, "must be a schema object");
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (ANNOTATIONS.has(key) || (key === "$defs" && path === "schema") || (key === "definitions" && path === "schema"))
      continue;
    if (key === "uniqueItems" && value === false) continue;
    if (!ENFORCED.has(key)) throw unenforceable(path, `the keyword "${key}" cannot be enforced by the grammar`);
    out[key] = value;
  }
  if (out.format !== undefined && !FORMATS.has(String(out.format))) {
    throw unenforceable(path, `format "${String(out.format)}" cannot be enforced (supported: date-time, date, time)`);
  }
  if (out.$ref !== undefined) {
    const ref = String(out.$ref).replace(/^#\/definitions\//, "#/$defs/");
    if (!ref.startsWith("#/$defs/")) throw unenforceable(path, "only local references to #/$defs/... are supported");
    out.$ref = ref;
  }
  if (out.anyOf !== undefined) {
    out.oneOf = out.anyOf;
    delete out.anyOf;
  }
  if (Array.isArray(out.oneOf)) out.oneOf = out.oneOf.map((alt, i) => convert(alt, `${path}.oneOf.${i}`));

  const types = out.type === undefined ? undefined : Array.isArray(out.type) ? (out.type as unknown[]) : [out.type];
  if (types && types.length > 1 && types.some((t) => t === "object" || t === "array")) {
    // The generator reads a type list only for scalars: split it into one alternative per type, each with the
    // keywords that apply to its type.
    const alternative = (type: unknown) =>
      Object.fromEntries([
        ["type", type],
        ...Object.entries(out).filter(
          ([k]) => k !== "type" && (!TYPED.has(k) || (TYPE_KEYWORDS[String(type)] ?? []).includes(k)),
        ),
      ]);
    return { oneOf: types.map((t, i) => convert(alternative(t), `${path}.type.${i}`)) };
  }
  for (const t of types ?? []) {
    if (typeof t !== "string" || (!SCALAR_TYPES.has(t) && t !== "object" && t !== "array")) {
      throw unenforceable(path, "type must be string, number, integer, boolean, null, object or array");
    }
  }
  if (
    types === undefined &&
    out.enum === undefined &&
    out.const === undefined &&
    out.oneOf === undefined &&
    out.$ref === undefined
  ) {
    throw unenforceable(path, "needs a type, enum, const, anyOf/oneOf or $ref");
  }

  if (isObject(out.properties)) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties).map(([name, prop]) => [name, convert(prop, `${path}.properties.${name}`)]),
    );
  }
  if (out.required !== undefined) {
    const declared = isObject(out.properties) ? Object.keys(out.properties) : [];
    const missing = Array.isArray(out.required) ? out.required.filter((r) => !declared.includes(String(r))) : [];
    if (missing.length > 0)
      throw unenforceable(path, `required property "${String(missing[0])}" is not declared in properties`);
  }
  if (isObject(out.additionalProperties))
    out.additionalProperties = convert(out.additionalProperties, `${path}.additionalProperties`);
  if (out.items !== undefined) out.items = convert(out.items, `${path}.items`);
  if (Array.isArray(out.prefixItems))
    out.prefixItems = out.prefixItems.map((item, i) => convert(item, `${path}.prefixItems.${i}`));
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unenforceable(path: string, reason: string): ApiError {
  return new ApiError(400, "invalid_request_error", "unsupported_schema", `${PARAM}: at ${path}, ${reason}.`, PARAM);
}
