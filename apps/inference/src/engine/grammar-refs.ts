import { type GrammarLimits, type SchemaPath, schemaError } from "./grammar-limits.ts";
import type { Converted } from "./json-schema/convert.ts";
import type { Node } from "./json-schema/nodes.ts";

/**
 * Checks on a read schema (json-schema/convert.ts) that need its `$ref`s resolved: no definition reaches itself
 * without writing a character first (left recursion, which llama.cpp refuses); every definition used has a finite
 * value under the grammar (required properties, prefix items and minimum counts are always written, so a recursion
 * through them alone never ends); and no place offers more alternatives (enum values, const, anyOf/oneOf choices and
 * type lists, counted through `$ref`) than `maxEnum`, since llama.cpp keeps a parse stack for each. Recursion over a
 * schema's own nesting is bounded by the depth limit, checked before; chains of `$ref` are walked iteratively.
 */
export function checkRefsAndChoices(converted: Converted, param: string, limits: GrammarLimits): void {
  const { root, refs } = converted;
  const fail = (code: "schema_too_large" | "unsupported_schema", path: SchemaPath, reason: string) =>
    schemaError(code, param, path, reason);
  const target = (pointer: string) => refs.get(pointer)!;
  /** Where a definition is: its JSON pointer as a path ("#/$defs/a" is $defs.a). */
  const defPath = (pointer: string): SchemaPath =>
    pointer === "#"
      ? []
      : pointer
          .slice(2)
          .split("/")
          .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));

  // The definitions used: those reachable from the root.
  const used = new Set<string>();
  const pending: Node[] = [root];
  while (pending.length > 0) {
    for (const node of nodesOf(pending.pop()!)) {
      if (node.kind !== "ref" || used.has(node.pointer)) continue;
      used.add(node.pointer);
      pending.push(target(node.pointer));
    }
  }

  // Left recursion: a definition whose value can start with itself. Depth-first over the "starts with" graph,
  // iteratively; the post-order is an order in which every definition comes after those it starts with.
  const order: string[] = [];
  const state = new Map<string, "open" | "done">();
  for (const start of used) {
    if (state.has(start)) continue;
    const stack: Array<{ name: string; next: string[] }> = [{ name: start, next: headRefs(target(start)) }];
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
        stack.push({ name: next, next: headRefs(target(next)) });
      }
    }
  }

  // A way out of every recursion: the definitions with a finite value, to a fixed point.
  const finite = new Set<string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const name of used) {
      if (!finite.has(name) && hasFiniteValue(target(name), finite)) {
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
        "this recursive definition has no way out: each value would contain another (through required properties, prefixItems or minItems); make the recursion optional (an optional property, array items, or an anyOf with a choice that does not recurse)",
      );
  }

  // Alternatives at one place, definitions first (in dependency order), then every node that uses them.
  const choices = new Map<string, number>();
  const count = (node: Node): number => {
    if (node.kind === "ref") return choices.get(node.pointer) ?? 1;
    if (node.kind === "anyOf") return node.alts.reduce((sum, alt) => sum + count(alt), 0);
    if (node.kind === "literal") return node.values.length;
    return 1;
  };
  const checkPlace = (node: Node) => {
    const n = count(node);
    if (n > limits.maxEnum)
      throw fail(
        "schema_too_large",
        node.path,
        `${n} alternatives at one place (enum values and anyOf/oneOf choices, through $ref) is more than this server allows (${limits.maxEnum})`,
      );
  };
  for (const name of order) {
    choices.set(name, count(target(name)));
    checkPlace(target(name));
  }
  for (const tree of [root, ...[...used].map(target)]) for (const node of nodesOf(tree)) checkPlace(node);
}

/** The definitions a value of `node` can start with: through `$ref` and choices, before any character is written. */
function headRefs(node: Node): string[] {
  const out: string[] = [];
  const stack = [node];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (next.kind === "ref") out.push(next.pointer);
    else if (next.kind === "anyOf") stack.push(...next.alts);
  }
  return out;
}

/** Whether the grammar can write a finite value of `node`, given the definitions known to have one. */
function hasFiniteValue(node: Node, finite: ReadonlySet<string>): boolean {
  switch (node.kind) {
    case "ref":
      return finite.has(node.pointer);
    case "anyOf":
      return node.alts.some((alt) => hasFiniteValue(alt, finite));
    case "array":
      return (
        node.prefix.every((item) => hasFiniteValue(item, finite)) &&
        (node.minRest === 0 || node.items === undefined || hasFiniteValue(node.items, finite))
      );
    case "object":
      return (
        node.props.every((p) => !p.required || hasFiniteValue(p.node, finite)) &&
        (node.minAdditional === 0 || node.additional === undefined || hasFiniteValue(node.additional, finite))
      );
    default:
      return true;
  }
}

/** Every node of a tree, the targets of its `$ref`s excepted (trees of their own). */
function nodesOf(tree: Node): Node[] {
  const out: Node[] = [];
  const stack = [tree];
  while (stack.length > 0) {
    const node = stack.pop()!;
    out.push(node);
    if (node.kind === "anyOf") stack.push(...node.alts);
    else if (node.kind === "array") {
      stack.push(...node.prefix);
      if (node.items) stack.push(node.items);
    } else if (node.kind === "object") {
      stack.push(...node.props.map((p) => p.node));
      if (node.additional) stack.push(node.additional);
      if (node.keys) stack.push(node.keys);
    }
  }
  return out;
}
