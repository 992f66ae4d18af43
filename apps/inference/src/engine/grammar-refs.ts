import { type GrammarLimits, type SchemaPath, schemaError } from "./grammar-limits.ts";

/**
 * Checks on a converted schema (the dialect node-llama-cpp's generator reads, see grammar.ts) that need its `$ref`s
 * resolved: every reference names a definition; no definition reaches itself without writing a character first
 * (left recursion, which llama.cpp refuses); every definition used has a finite value under the grammar (which writes
 * every declared property and prefix item, so a recursion through them alone never ends); and no place offers more
 * alternatives (enum values, const, anyOf/oneOf choices, counted through `$ref`) than `maxEnum`, since llama.cpp keeps
 * a parse stack for each. Recursion over a schema's own nesting is bounded by the depth limit, checked before;
 * chains of `$ref` are walked iteratively.
 */

export interface SchemaPlaces {
  /** Where a converted node came from in the request's schema. */
  pathOf(node: object): SchemaPath;
  /** Where a converted node's choices came from (its `anyOf`, `oneOf` or `type` list). */
  choicesPathOf(node: object): SchemaPath;
}

type Node = Record<string, unknown>;
const REF_PREFIX = "#/$defs/";

export function checkRefsAndChoices(root: Node, places: SchemaPlaces, param: string, limits: GrammarLimits): void {
  const defs = (isObject(root.$defs) ? root.$defs : {}) as Record<string, Node>;
  const fail = (code: "schema_too_large" | "unsupported_schema", path: SchemaPath, reason: string) =>
    schemaError(code, param, path, reason);
  const defPath = (name: string) => places.pathOf(defs[name]!);

  // Every reference resolves; the definitions used are those reachable from the root.
  const used = new Set<string>();
  const pending: Node[] = [root];
  while (pending.length > 0) {
    for (const node of nodesOf(pending.pop()!)) {
      if (typeof node.$ref !== "string") continue;
      const name = refName(node.$ref);
      if (name === undefined || !Object.hasOwn(defs, name))
        throw fail("unsupported_schema", places.pathOf(node), "$ref names no definition in the root's $defs");
      if (!used.has(name)) {
        used.add(name);
        pending.push(defs[name]!);
      }
    }
  }

  // Left recursion: a definition whose value can start with itself. Depth-first over the "starts with" graph,
  // iteratively; the post-order is an order in which every definition comes after those it starts with.
  const order: string[] = [];
  const state = new Map<string, "open" | "done">();
  for (const start of used) {
    if (state.has(start)) continue;
    const stack: Array<{ name: string; next: string[] }> = [{ name: start, next: headRefs(defs[start]!) }];
    state.set(start, "open");
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const next = top.next.pop();
      if (next === undefined) {
        state.set(top.name, "done");
        order.push(top.name);
        stack.pop();
      } else if (state.get(next) === "open") {
        throw fail(
          "unsupported_schema",
          defPath(next),
          "this definition can start with itself through $ref and anyOf/oneOf, writing nothing first (left recursion), which the grammar cannot express",
        );
      } else if (!state.has(next)) {
        state.set(next, "open");
        stack.push({ name: next, next: headRefs(defs[next]!) });
      }
    }
  }

  // A way out of every recursion: the definitions with a finite value, to a fixed point.
  const finite = new Set<string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const name of used) {
      if (!finite.has(name) && hasFiniteValue(defs[name]!, finite)) {
        finite.add(name);
        grew = true;
      }
    }
  }
  for (const name of used) {
    if (!finite.has(name))
      throw fail(
        "unsupported_schema",
        defPath(name),
        "this recursive definition has no way out: the grammar writes every declared property and prefixItems entry, so each value would contain another; make the recursion optional (array items, or an anyOf with a choice that does not recurse)",
      );
  }

  // Alternatives at one place, definitions first (in dependency order), then every node that uses them.
  const choices = new Map<string, number>();
  const count = (node: Node): number => {
    if (typeof node.$ref === "string") return choices.get(refName(node.$ref)!) ?? 1;
    if (Array.isArray(node.oneOf)) return (node.oneOf as Node[]).reduce((sum, alt) => sum + count(alt), 0);
    if (node.const !== undefined) return 1;
    if (Array.isArray(node.enum)) return node.enum.length;
    if (Array.isArray(node.type)) return node.type.length;
    return 1;
  };
  const checkPlace = (node: Node) => {
    const n = count(node);
    if (n > limits.maxEnum)
      throw fail(
        "schema_too_large",
        Array.isArray(node.oneOf) ? places.choicesPathOf(node) : places.pathOf(node),
        `${n} alternatives at one place (enum values and anyOf/oneOf choices, through $ref) is more than this server allows (${limits.maxEnum})`,
      );
  };
  for (const name of order) {
    choices.set(name, count(defs[name]!));
    checkPlace(defs[name]!);
  }
  for (const tree of [root, ...[...used].map((name) => defs[name]!)])
    for (const node of nodesOf(tree)) checkPlace(node);
}

/** "#/$defs/name" to "name" (the conversion has rewritten #/definitions/ references). */
function refName(ref: string): string | undefined {
  return ref.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : undefined;
}

/** The definitions a value of `node` can start with: through `$ref` and choices, before any character is written. */
function headRefs(node: Node): string[] {
  const out: string[] = [];
  const stack = [node];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (typeof next.$ref === "string") out.push(refName(next.$ref)!);
    else if (Array.isArray(next.oneOf)) stack.push(...(next.oneOf as Node[]));
  }
  return out;
}

/**
 * Whether the grammar can write a finite value of `node`, given the definitions known to have one. Mirrors the
 * generator's precedence: $ref, then oneOf, const, enum, object, array, scalars.
 */
function hasFiniteValue(node: Node, finite: ReadonlySet<string>): boolean {
  if (typeof node.$ref === "string") return finite.has(refName(node.$ref)!);
  if (Array.isArray(node.oneOf)) return (node.oneOf as Node[]).some((alt) => hasFiniteValue(alt, finite));
  if (node.const !== undefined || node.enum !== undefined) return true;
  if (node.type === "object")
    return Object.values((node.properties ?? {}) as Record<string, Node>).every((p) => hasFiniteValue(p, finite));
  if (node.type === "array") {
    const prefix = (Array.isArray(node.prefixItems) ? node.prefixItems : []) as Node[];
    if (!prefix.every((item) => hasFiniteValue(item, finite))) return false;
    const rest = (typeof node.minItems === "number" ? node.minItems : 0) - prefix.length;
    return rest <= 0 || !isObject(node.items) || hasFiniteValue(node.items, finite);
  }
  return true;
}

/** Every schema node of a converted tree, `$defs` excepted (the root's definitions are trees of their own). */
function nodesOf(tree: Node): Node[] {
  const out: Node[] = [];
  const stack = [tree];
  while (stack.length > 0) {
    const node = stack.pop()!;
    out.push(node);
    if (Array.isArray(node.oneOf)) stack.push(...(node.oneOf as Node[]));
    if (isObject(node.properties)) stack.push(...(Object.values(node.properties) as Node[]));
    if (isObject(node.additionalProperties)) stack.push(node.additionalProperties);
    if (isObject(node.items)) stack.push(node.items);
    if (Array.isArray(node.prefixItems)) stack.push(...(node.prefixItems as Node[]));
  }
  return out;
}

function isObject(value: unknown): value is Node {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
