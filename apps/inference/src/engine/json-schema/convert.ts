import { type GrammarLimits, type SchemaPath, schemaError } from "../grammar-limits.ts";
import { formatGrammar, SUPPORTED_FORMATS } from "./formats.ts";
import type { Node, Property } from "./nodes.ts";
import { integerRange, type NumberBound, numberRange } from "./ranges.ts";
import { PatternError, patternGrammar } from "./regex.ts";

/**
 * Reads a JSON schema (drafts 4 to 2020-12, as zod, Pydantic and the AI SDKs write them) into nodes (nodes.ts),
 * refusing with a 400 naming the path whatever the grammar cannot enforce. The reading follows llama.cpp's
 * common/json-schema.cpp where that is sound, and is stricter or wider where it is not:
 *  - `$ref` to any local JSON pointer (`#/$defs/x`, `#/definitions/x`, `#`); siblings of a `$ref` that constrain are
 *    combined with its target (allOf).
 *  - `anyOf`/`oneOf` are a choice among their alternatives (oneOf's "exactly one" is not checked, as in llama.cpp).
 *  - `allOf` is merged into one schema: objects' properties and required names together (llama.cpp's merge),
 *    bounds tightened, enums intersected, and an allOf holding an anyOf distributed over its alternatives.
 *  - A type list is one alternative per type, each with the keywords of its type; `nullable: true` adds null.
 *  - Without a type, the keywords present decide the type (as llama.cpp); none at all is any JSON value.
 *  - Objects: declared properties in their order, the required ones always, the optional ones when the model wants;
 *    `additionalProperties` absent means none when properties are declared and any value otherwise (llama.cpp's
 *    default); min/maxProperties are met by writing more declared properties, fewer optional ones, or bounding the
 *    undeclared ones.
 *  - A `false` subschema (or an allOf no value satisfies) removes an optional property or an alternative.
 */

const ANNOTATIONS = new Set([
  "title",
  "description",
  "$schema",
  "$id",
  "$anchor",
  "$comment",
  "default",
  "examples",
  "example",
  "deprecated",
  "readOnly",
  "writeOnly",
  "discriminator",
  "contentEncoding",
  "contentMediaType",
  "markdownDescription",
]);
const isAnnotation = (key: string) => ANNOTATIONS.has(key) || key.startsWith("x-");
const SUPPORTED = new Set([
  "type",
  "$ref",
  "$defs",
  "definitions",
  "anyOf",
  "oneOf",
  "allOf",
  "const",
  "enum",
  "nullable",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "minProperties",
  "maxProperties",
  "items",
  "prefixItems",
  "additionalItems",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minLength",
  "maxLength",
  "pattern",
  "format",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
]);
const TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"] as const;
type TypeName = (typeof TYPES)[number];
/** Keywords that apply to one type only (JSON Schema ignores them for values of another type). */
const TYPE_KEYWORDS: Record<TypeName, readonly string[]> = {
  null: [],
  boolean: [],
  integer: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  number: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  string: ["minLength", "maxLength", "pattern", "format"],
  array: ["items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems"],
  object: ["properties", "required", "additionalProperties", "propertyNames", "minProperties", "maxProperties"],
};
const TYPED = new Map<string, TypeName[]>();
for (const type of TYPES) for (const k of TYPE_KEYWORDS[type]) TYPED.set(k, [...(TYPED.get(k) ?? []), type]);
/** allOf and $ref siblings merged more than this many levels deep are refused (a bound on self-merging refs). */
const MAX_MERGE_DEPTH = 16;
/** Merges of allOf components in one schema (an allOf over anyOf choices merges once per choice). */
const MAX_MERGES = 256;

type Raw = Record<string, unknown>;

export interface Converted {
  root: Node;
  /** The targets of `$ref`, by JSON pointer. */
  refs: Map<string, Node>;
}

/** Thrown for "no value satisfies this", caught where an alternative or an optional property can go instead. */
class Never extends Error {
  constructor(
    readonly path: SchemaPath,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export function convertSchema(schema: unknown, param: string, limits: GrammarLimits): Converted {
  const reader = new Reader(schema, param, limits);
  try {
    const root = reader.node(schema, []);
    return { root, refs: reader.refs };
  } catch (error) {
    if (error instanceof Never) throw schemaError("unsupported_schema", param, error.path, error.reason);
    throw error;
  }
}

class Reader {
  readonly refs = new Map<string, Node>();
  private readonly pending = new Set<string>();
  constructor(
    private readonly root: unknown,
    private readonly param: string,
    private readonly limits: GrammarLimits,
  ) {}

  private fail(
    path: SchemaPath,
    reason: string,
    code: "unsupported_schema" | "schema_too_large" = "unsupported_schema",
  ) {
    return schemaError(code, this.param, path, reason);
  }

  node(schema: unknown, path: SchemaPath, depth = 0): Node {
    if (schema === true) return { kind: "any", path };
    if (schema === false) throw new Never(path, "no value satisfies this schema (false)");
    if (!isObject(schema)) throw this.fail(path, "must be a schema object");
    const at = (...more: string[]) => [...path, ...more];
    for (const key of Object.keys(schema)) {
      if (isAnnotation(key) || SUPPORTED.has(key)) continue;
      throw this.fail(path, `the keyword "${key}" cannot be enforced by the grammar`);
    }
    const own = Object.fromEntries(
      Object.entries(schema).filter(
        ([k]) => !isAnnotation(k) && !(path.length === 0 && (k === "$defs" || k === "definitions")),
      ),
    );

    if (own.$ref !== undefined) {
      const { $ref, ...rest } = own;
      if (typeof $ref !== "string") throw this.fail(at("$ref"), "must be a string");
      if (Object.keys(rest).length === 0) return this.ref($ref, path);
      return this.merged([{ $ref }, rest], path, depth);
    }
    if (own.allOf !== undefined) {
      const { allOf, ...rest } = own;
      if (!Array.isArray(allOf) || allOf.length === 0)
        throw this.fail(at("allOf"), "must be a non-empty array of schemas");
      return this.merged([...allOf, ...(Object.keys(rest).length > 0 ? [rest] : [])], path, depth);
    }
    const choices = own.anyOf !== undefined ? "anyOf" : own.oneOf !== undefined ? "oneOf" : undefined;
    if (choices !== undefined) {
      const { [choices]: list, ...rest } = own;
      if (!Array.isArray(list) || list.length === 0)
        throw this.fail(at(choices), "must be a non-empty array of schemas");
      if (Object.keys(rest).length > 0) return this.merged([{ [choices]: list }, rest], path, depth);
      return this.choice(
        list.map((alt, i) => () => this.node(alt, at(choices, String(i)), depth)),
        path,
        at(choices),
      );
    }

    let types = this.types(own, path);
    if (own.const !== undefined || own.enum !== undefined) return this.literal(own, types, path);
    if (types === undefined) {
      const inferred = inferType(own);
      if (inferred === "any") return { kind: "any", path };
      types = [inferred];
    }
    if (types.length === 1) return this.typed(types[0]!, own, path, depth);
    // A type list: one alternative per type, each with its own keywords.
    return this.choice(
      types.map((type) => () => this.typed(type, own, path, depth)),
      path,
      at("type"),
    );
  }

  /** The `type` keyword (with `nullable`), or undefined for none. */
  private types(own: Raw, path: SchemaPath): TypeName[] | undefined {
    if (own.type === undefined) return undefined;
    const list = Array.isArray(own.type) ? own.type : [own.type];
    if (list.length === 0) throw this.fail([...path, "type"], "must not be empty");
    for (const t of list)
      if (typeof t !== "string" || !(TYPES as readonly string[]).includes(t))
        throw this.fail([...path, "type"], "must be string, number, integer, boolean, null, object or array");
    const types = [...new Set(list as TypeName[])];
    if (own.nullable === true && !types.includes("null")) types.push("null");
    return types;
  }

  /** Alternatives, dropping those no value satisfies; the choice itself fails only when none is left. */
  private choice(alts: Array<() => Node>, _path: SchemaPath, choicesPath: SchemaPath): Node {
    const out: Node[] = [];
    let never: Never | undefined;
    for (const alt of alts) {
      try {
        out.push(alt());
      } catch (error) {
        if (!(error instanceof Never)) throw error;
        never = error;
      }
    }
    if (out.length === 0) throw never!;
    return out.length === 1 ? out[0]! : { kind: "anyOf", alts: out, path: choicesPath };
  }

  private ref(ref: string, path: SchemaPath): Node {
    if (!ref.startsWith("#")) throw this.fail(path, "only local references (#/...) are supported");
    const pointer = ref === "#" ? "#" : ref;
    if (!this.refs.has(pointer) && !this.pending.has(pointer)) {
      const { value, path: targetPath } = this.resolve(pointer, path);
      this.pending.add(pointer);
      try {
        this.refs.set(pointer, this.node(value, targetPath));
      } catch (error) {
        if (error instanceof Never) throw this.fail(error.path, error.reason);
        throw error;
      }
      this.pending.delete(pointer);
    }
    return { kind: "ref", pointer, path };
  }

  /** A JSON pointer within the request's schema, and its path for messages. */
  private resolve(pointer: string, path: SchemaPath): { value: unknown; path: SchemaPath } {
    const tokens =
      pointer === "#"
        ? []
        : pointer
            .slice(1)
            .split("/")
            .slice(1)
            .map((t) => decodeURIComponent(t).replace(/~1/g, "/").replace(/~0/g, "~"));
    if (pointer !== "#" && !pointer.startsWith("#/"))
      throw this.fail(path, "only local references (#/...) are supported");
    let value: unknown = this.root;
    for (const token of tokens) {
      if (Array.isArray(value) && /^\d+$/.test(token) && Number(token) < value.length) value = value[Number(token)];
      else if (isObject(value) && Object.hasOwn(value, token)) value = value[token];
      else throw this.fail(path, "$ref names no definition in this schema");
    }
    return { value, path: tokens };
  }

  /** allOf: the components merged into one schema, an anyOf among them distributed over its alternatives. */
  private merged(components: unknown[], path: SchemaPath, depth: number): Node {
    if (depth >= MAX_MERGE_DEPTH || ++this.merges > MAX_MERGES)
      throw this.fail(
        path,
        `allOf (or $ref with other keywords) nested or distributed too far: at most ${MAX_MERGES} merges`,
        "schema_too_large",
      );
    const flat: Raw[] = [];
    const flatten = (schema: unknown, level: number): void => {
      if (level > MAX_MERGE_DEPTH) throw this.fail(path, `allOf nested more than ${MAX_MERGE_DEPTH} deep`);
      if (schema === true) return;
      if (schema === false) throw new Never(path, "no value satisfies this allOf (false)");
      if (!isObject(schema)) throw this.fail(path, "allOf must hold schema objects");
      const own = Object.fromEntries(
        Object.entries(schema).filter(([k]) => !isAnnotation(k) && k !== "$defs" && k !== "definitions"),
      );
      for (const key of Object.keys(own))
        if (!SUPPORTED.has(key)) throw this.fail(path, `the keyword "${key}" cannot be enforced by the grammar`);
      const { $ref, allOf, ...rest } = own;
      if ($ref === undefined && allOf === undefined) {
        flat.push(own);
        return;
      }
      if ($ref !== undefined) {
        if (typeof $ref !== "string") throw this.fail([...path, "$ref"], "must be a string");
        flatten(this.resolve($ref, path).value, level + 1);
      }
      if (allOf !== undefined) {
        if (!Array.isArray(allOf) || allOf.length === 0)
          throw this.fail([...path, "allOf"], "must be a non-empty array of schemas");
        for (const c of allOf) flatten(c, level + 1);
      }
      if (Object.keys(rest).length > 0) flatten(rest, level + 1);
    };
    for (const c of components) flatten(c, 0);
    // Distribute over the first anyOf/oneOf: allOf [A, anyOf [B, C]] is anyOf [allOf [A, B], allOf [A, C]].
    const index = flat.findIndex((c) => c.anyOf !== undefined || c.oneOf !== undefined);
    if (index >= 0) {
      const component = flat[index]!;
      const key = component.anyOf !== undefined ? "anyOf" : "oneOf";
      const { [key]: list, ...rest } = component;
      if (!Array.isArray(list) || list.length === 0)
        throw this.fail([...path, "allOf"], `${key} must be a non-empty array`);
      const others = [...flat.filter((_, i) => i !== index), ...(Object.keys(rest).length > 0 ? [rest] : [])];
      return this.choice(
        list.map((alt) => () => this.merged([...others, alt], path, depth + 1)),
        path,
        [...path, "allOf"],
      );
    }
    let merged: Raw = {};
    for (const c of flat) merged = this.mergeTwo(merged, c, path);
    return this.node(merged, path, depth + 1);
  }
  private merges = 0;

  private mergeTwo(a: Raw, b: Raw, path: SchemaPath): Raw {
    const out: Raw = { ...a };
    const cannot = (key: string) => this.fail([...path, "allOf"], `cannot combine two different "${key}" (allOf)`);
    for (const [key, value] of Object.entries(b)) {
      const old = out[key];
      if (old === undefined) {
        out[key] = value;
        continue;
      }
      switch (key) {
        case "properties": {
          if (!isObject(old) || !isObject(value)) throw cannot(key);
          const props: Raw = { ...old };
          for (const [name, s] of Object.entries(value))
            props[name] = Object.hasOwn(props, name) ? { allOf: [props[name], s] } : s;
          out[key] = props;
          break;
        }
        case "required":
          out[key] = [...new Set([...(old as unknown[]), ...(value as unknown[])])];
          break;
        case "type": {
          const list = (t: unknown) => (Array.isArray(t) ? t : [t]) as string[];
          const left = list(old);
          const both = list(value).flatMap((t) =>
            left.includes(t)
              ? [t]
              : t === "integer" && left.includes("number")
                ? ["integer"]
                : t === "number" && left.includes("integer")
                  ? ["integer"]
                  : [],
          );
          if (both.length === 0) throw new Never(path, "no value satisfies this allOf (its types do not overlap)");
          out[key] = [...new Set(both)];
          break;
        }
        case "enum":
        case "const": {
          const values = (k: string, v: unknown) => (k === "const" ? [v] : Array.isArray(v) ? v : []);
          const keep = values(key, value).map((v) => JSON.stringify(v));
          const both = values(key, old).filter((v) => keep.includes(JSON.stringify(v)));
          if (both.length === 0) throw new Never(path, "no value satisfies this allOf (its enums do not overlap)");
          out[key] = key === "const" ? both[0] : both;
          break;
        }
        case "minimum":
        case "exclusiveMinimum":
        case "minLength":
        case "minItems":
        case "minProperties":
          if (typeof old !== "number" || typeof value !== "number") throw cannot(key);
          out[key] = Math.max(old, value);
          break;
        case "maximum":
        case "exclusiveMaximum":
        case "maxLength":
        case "maxItems":
        case "maxProperties":
          if (typeof old !== "number" || typeof value !== "number") throw cannot(key);
          out[key] = Math.min(old, value);
          break;
        case "additionalProperties":
        case "items":
        case "additionalItems":
        case "propertyNames":
          out[key] =
            old === false || value === false
              ? false
              : old === true
                ? value
                : value === true
                  ? old
                  : { allOf: [old, value] };
          break;
        default:
          if (JSON.stringify(old) !== JSON.stringify(value)) throw cannot(key);
      }
    }
    // additionalProperties: false in one component closes the object to the properties that component declares.
    const closed = (s: Raw) => s.additionalProperties === false && isObject(s.properties);
    for (const side of [a, b]) {
      if (!closed(side) || !isObject(out.properties)) continue;
      const allowed = Object.keys(side.properties as Raw);
      const required = new Set(Array.isArray(out.required) ? (out.required as string[]) : []);
      const props: Raw = {};
      for (const [name, s] of Object.entries(out.properties)) {
        if (allowed.includes(name)) props[name] = s;
        else if (required.has(name))
          throw new Never(
            [...path, "allOf"],
            `required property "${name}" is not allowed by another part of the allOf`,
          );
      }
      out.properties = props;
      out.additionalProperties = false;
    }
    return out;
  }

  private literal(own: Raw, types: TypeName[] | undefined, path: SchemaPath): Node {
    const key = own.const !== undefined ? "const" : "enum";
    const values = own.const !== undefined ? [own.const] : (own.enum as unknown[]);
    if (!Array.isArray(values) || values.length === 0) throw this.fail([...path, "enum"], "must be a non-empty array");
    if (own.const !== undefined && own.enum !== undefined) {
      const allowed = (own.enum as unknown[]).map((v) => JSON.stringify(v));
      if (!allowed.includes(JSON.stringify(own.const))) throw new Never(path, "const is not one of enum's values");
    }
    const kept = values
      .filter((v) => types === undefined || types.some((t) => hasType(v, t)))
      .filter((v) => satisfies(v, own));
    if (kept.length === 0) throw new Never([...path, key], "none of its values has the schema's type and bounds");
    return { kind: "literal", values: kept, path: [...path, key] };
  }

  private typed(type: TypeName, own: Raw, path: SchemaPath, depth: number): Node {
    const at = (...more: string[]) => [...path, ...more];
    switch (type) {
      case "null":
        return { kind: "null", path };
      case "boolean":
        return { kind: "boolean", path };
      case "integer":
      case "number":
        return this.numeric(type, own, path);
      case "string":
        return this.string(own, path);
      case "array": {
        const tuple = Array.isArray(own.prefixItems)
          ? own.prefixItems
          : Array.isArray(own.items)
            ? own.items
            : undefined;
        const tupleKey = Array.isArray(own.prefixItems) ? "prefixItems" : "items";
        const restKey = Array.isArray(own.prefixItems)
          ? "items"
          : Array.isArray(own.items)
            ? "additionalItems"
            : "items";
        const restSchema = own[restKey];
        const minItems = (own.minItems as number | undefined) ?? 0;
        const maxItems = own.maxItems as number | undefined;
        if (own.uniqueItems === true && (maxItems === undefined || maxItems > 1))
          throw this.fail(at("uniqueItems"), "cannot be enforced by the grammar (only with maxItems 1)");
        if (own.prefixItems !== undefined && !Array.isArray(own.prefixItems))
          throw this.fail(at("prefixItems"), "must be an array of schemas");
        const written = Math.min(tuple?.length ?? 0, maxItems ?? Number.POSITIVE_INFINITY);
        const prefix = (tuple ?? []).slice(0, written).map((s, i) => this.node(s, at(tupleKey, String(i)), depth));
        // Items after the tuple: the rest schema, none for false; with a tuple and no rest schema, none are written
        // unless minItems needs them (then any value, which is what an absent schema allows).
        let items: Node | undefined;
        if (restSchema === undefined)
          items = tuple === undefined ? { kind: "any", path } : minItems > written ? { kind: "any", path } : undefined;
        else if (restSchema === false) items = undefined;
        else {
          try {
            items = this.node(restSchema, at(restKey), depth);
          } catch (error) {
            if (!(error instanceof Never)) throw error;
            items = undefined;
          }
        }
        const minRest = Math.max(0, minItems - written);
        const maxRest = items === undefined ? 0 : maxItems === undefined ? undefined : maxItems - written;
        if (maxRest !== undefined && minRest > maxRest)
          throw new Never(at("minItems"), "no array has this many items under the schema");
        return { kind: "array", prefix, items, minRest, maxRest, path };
      }
      case "object":
        return this.object(own, path, depth);
    }
  }

  private numeric(type: "integer" | "number", own: Raw, path: SchemaPath): Node {
    const at = (k: string) => [...path, k];
    const bound = (
      key: "minimum" | "maximum",
      exclusiveKey: "exclusiveMinimum" | "exclusiveMaximum",
    ): NumberBound | undefined => {
      const candidates: NumberBound[] = [];
      const plain = own[key];
      const exclusive = own[exclusiveKey];
      for (const k of [key, exclusiveKey]) {
        const v = own[k];
        if (v !== undefined && typeof v !== "boolean" && (typeof v !== "number" || !Number.isFinite(v)))
          throw this.fail(at(k), "must be a finite number");
      }
      if (typeof plain === "number") candidates.push({ value: plain, exclusive: exclusive === true }); // draft 4: a boolean
      if (typeof exclusive === "number") candidates.push({ value: exclusive, exclusive: true });
      if (candidates.length === 0) return undefined;
      const tighter = (x: NumberBound, y: NumberBound) =>
        key === "minimum"
          ? x.value > y.value || (x.value === y.value && x.exclusive)
          : x.value < y.value || (x.value === y.value && x.exclusive);
      return candidates.reduce((best, c) => (tighter(c, best) ? c : best));
    };
    const min = bound("minimum", "exclusiveMinimum");
    const max = bound("maximum", "exclusiveMaximum");
    const multipleOf = own.multipleOf;
    // Every integer is a multiple of 1/n; a number that is a multiple of 1 is an integer. Other steps are refused.
    if (multipleOf !== undefined) {
      const divides = typeof multipleOf === "number" && multipleOf > 0 && Number.isInteger(1 / multipleOf);
      if (!(multipleOf === 1 || (type === "integer" && divides)))
        throw this.fail(at("multipleOf"), "cannot be enforced by the grammar (only 1, or 1/n for integers)");
    }
    const integer = type === "integer" || multipleOf === 1;
    if (min === undefined && max === undefined) return { kind: integer ? "integer" : "number", range: undefined, path };
    if (integer) {
      const lo =
        min === undefined ? undefined : BigInt(min.exclusive ? Math.floor(min.value) + 1 : Math.ceil(min.value));
      const hi =
        max === undefined ? undefined : BigInt(max.exclusive ? Math.ceil(max.value) - 1 : Math.floor(max.value));
      const range = integerRange(lo, hi);
      if (range === undefined)
        throw new Never(path, "no integer lies within minimum and maximum (at most 16 digits are written)");
      return { kind: "integer", range, path };
    }
    const range = numberRange(min, max);
    if (range === undefined)
      throw new Never(
        path,
        "no number lies within minimum and maximum (numbers are written with at most 16 integral and 20 fractional digits of bound)",
      );
    return { kind: "number", range, path };
  }

  private string(own: Raw, path: SchemaPath): Node {
    const at = (k: string) => [...path, k];
    const minLength = (own.minLength as number | undefined) ?? 0;
    const maxLength = own.maxLength as number | undefined;
    if (maxLength !== undefined && minLength > maxLength) throw new Never(at("minLength"), "is more than maxLength");
    if (own.pattern !== undefined) {
      if (typeof own.pattern !== "string") throw this.fail(at("pattern"), "must be a string");
      // With a format too, the pattern decides (as in llama.cpp) - except an email pattern zod writes, which the
      // email format's grammar satisfies (it is narrower than both).
      if (own.format === "email" && isZodEmailPattern(own.pattern))
        return this.format("email", minLength, maxLength, path);
      try {
        const expr = patternGrammar(own.pattern, {
          minLength,
          maxLength,
          maxRepeat: this.limits.maxRepeat,
          maxAlternatives: this.limits.maxEnum,
          anyChar: "char",
        });
        return { kind: "string", expr, rules: {}, minLength, maxLength, path };
      } catch (error) {
        if (error instanceof PatternError) throw this.fail(at("pattern"), `${error.message}`, error.code);
        throw error;
      }
    }
    if (own.format !== undefined) return this.format(own.format, minLength, maxLength, path);
    if (maxLength === undefined && minLength > this.limits.maxRepeat)
      throw this.fail(
        at("minLength"),
        `${minLength} is more than this server allows (${this.limits.maxRepeat})`,
        "schema_too_large",
      );
    return { kind: "string", minLength, maxLength, path };
  }

  private format(format: unknown, minLength: number, maxLength: number | undefined, path: SchemaPath): Node {
    if (typeof format !== "string") throw this.fail([...path, "format"], "must be a string");
    const grammar = formatGrammar(format, maxLength);
    if (grammar === undefined)
      throw this.fail(
        [...path, "format"],
        `format "${format.slice(0, 64)}" cannot be enforced (supported: ${SUPPORTED_FORMATS})`,
      );
    if (grammar.minLength < minLength || (maxLength !== undefined && grammar.maxLength > maxLength))
      throw this.fail(
        [...path, "format"],
        `format "${format}" with minLength/maxLength cannot be enforced (its values have ${grammar.minLength} to ${grammar.maxLength} characters)`,
      );
    return { kind: "string", expr: grammar.expr, rules: grammar.rules, minLength, maxLength, path };
  }

  private object(own: Raw, path: SchemaPath, depth: number): Node {
    const at = (...more: string[]) => [...path, ...more];
    if (own.properties !== undefined && !isObject(own.properties))
      throw this.fail(at("properties"), "must be an object of schemas");
    if (own.required !== undefined && !Array.isArray(own.required))
      throw this.fail(at("required"), "must be an array of names");
    const declared = isObject(own.properties) ? own.properties : {};
    const required = new Set((own.required as unknown[] | undefined)?.map(String) ?? []);
    const missing = [...required].find((name) => !Object.hasOwn(declared, name));
    if (missing !== undefined)
      throw this.fail(at("required"), `required property "${missing.slice(0, 64)}" is not declared in properties`);

    let props: Property[] = [];
    for (const [name, schema] of Object.entries(declared)) {
      const isRequired = required.has(name);
      try {
        props.push({ name, node: this.node(schema, at("properties", name), depth), required: isRequired });
      } catch (error) {
        // A property no value satisfies can only be left out.
        if (!(error instanceof Never) || isRequired) throw error;
      }
    }

    let additional: Node | undefined;
    const extra = own.additionalProperties;
    if (extra === undefined) additional = own.properties === undefined ? { kind: "any", path } : undefined;
    else if (extra === true) additional = { kind: "any", path };
    else if (extra === false) additional = undefined;
    else if (isObject(extra)) {
      try {
        additional = this.node(extra, at("additionalProperties"), depth);
      } catch (error) {
        if (!(error instanceof Never)) throw error;
      }
    } else throw this.fail(at("additionalProperties"), "must be a schema or a boolean");

    let keys: Node | undefined;
    if (own.propertyNames !== undefined && own.propertyNames !== true) {
      const names = this.node(own.propertyNames, at("propertyNames"), depth);
      const stringOnly =
        names.kind === "string" || (names.kind === "literal" && names.values.every((v) => typeof v === "string"));
      if (!stringOnly) throw this.fail(at("propertyNames"), "must be a string schema");
      if (
        names.kind === "literal" ||
        names.expr !== undefined ||
        names.minLength > 0 ||
        names.maxLength !== undefined
      ) {
        if (props.length > 0)
          throw this.fail(at("propertyNames"), "can be enforced only when no property is declared (a record)");
        keys = names;
      }
    }

    // minProperties / maxProperties: more declared properties written, optional ones left out, undeclared bounded.
    const minProps = own.minProperties as number | undefined;
    const maxProps = own.maxProperties as number | undefined;
    let minAdditional = 0;
    let maxAdditional: number | undefined;
    if (minProps !== undefined) {
      let count = props.filter((p) => p.required).length;
      props = props.map((p) => {
        if (p.required || count >= minProps) return p;
        count++;
        return { ...p, required: true };
      });
      if (count < minProps) {
        if (additional === undefined) throw new Never(at("minProperties"), "more properties than the schema allows");
        minAdditional = minProps - count;
      }
    }
    if (maxProps !== undefined) {
      const requiredCount = props.filter((p) => p.required).length;
      if (requiredCount + minAdditional > maxProps)
        throw new Never(at("maxProperties"), `is less than the ${requiredCount} required properties`);
      let room = maxProps - requiredCount - minAdditional;
      props = props.filter((p) => p.required || (room > 0 && room--));
      maxAdditional = additional === undefined ? 0 : minAdditional + room;
    }
    return { kind: "object", props, additional, keys, minAdditional, maxAdditional, path };
  }
}

/** A type for a schema without one, from its keywords (as llama.cpp); undefined type and no keyword: any value. */
function inferType(own: Raw): TypeName | "any" {
  const found = new Set(Object.keys(own).flatMap((k) => TYPED.get(k) ?? []));
  for (const type of ["object", "array", "string", "number"] as const) if (found.has(type)) return type;
  return "any";
}

function hasType(value: unknown, type: TypeName): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "string":
      return typeof value === "string";
    case "array":
      return Array.isArray(value);
    case "object":
      return isObject(value);
  }
}

/** Whether an enum or const value meets the scalar keywords beside it (those values are written as they are). */
function satisfies(value: unknown, own: Raw): boolean {
  if (typeof value === "number") {
    if (typeof own.minimum === "number" && value < own.minimum) return false;
    if (typeof own.maximum === "number" && value > own.maximum) return false;
    if (typeof own.exclusiveMinimum === "number" && value <= own.exclusiveMinimum) return false;
    if (typeof own.exclusiveMaximum === "number" && value >= own.exclusiveMaximum) return false;
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof own.minLength === "number" && length < own.minLength) return false;
    if (typeof own.maxLength === "number" && length > own.maxLength) return false;
    if (typeof own.pattern === "string") {
      try {
        if (!new RegExp(own.pattern, "u").test(value)) return false;
      } catch {
        return false;
      }
    }
  }
  return true;
}

/** zod 4's email patterns (z.email() and its presets), which the email format's grammar satisfies. */
function isZodEmailPattern(pattern: string): boolean {
  return (
    pattern ===
      "^(?!\\.)(?!.*\\.\\.)([A-Za-z0-9_'+\\-\\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$" ||
    pattern ===
      "^(?:[A-Za-z0-9_'+\\-]+\\.)*[A-Za-z0-9_'+\\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$"
  );
}

export function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
