import { Interpreter, parse, tokenize } from "@huggingface/jinja";

/**
 * Two differences between @huggingface/jinja and the renderers the templates are written for (Python's jinja2 in
 * transformers, llama.cpp's own in llama-server), both about undefined values, which those treat as empty:
 * - a `for` loop over an undefined variable iterates nothing (jinja2's Undefined is iterable); @huggingface/jinja
 *   throws, so Hermes' `{% for tool in tools %}` fails on a request without tools;
 * - a string filter or `length` on an undefined value gives "" or 0 (Hermes' `message.content | trim` on a tool
 *   call, Apriel's `tools | length`); @huggingface/jinja throws.
 * Patched here, once, on the interpreter the library's Template uses (it offers no option for either). When a loop
 * target is a plain variable or attribute that is undefined, the loop runs over an empty list (its `else` runs).
 */
type Node = { type: string; iterable?: Node; lhs?: Node; value?: unknown };
type RenderFor = (this: Interpreter, node: Node, environment: unknown) => unknown;

const EMPTY_LIST = (parse(tokenize("{% for x in [] %}{% endfor %}")).body[0] as unknown as { iterable: Node }).iterable;
type Value = { type: string };
type ApplyFilter = (this: Interpreter, operand: Value, filter: Node, environment: unknown) => Value;
const prototype = Interpreter.prototype as unknown as {
  renderFor: RenderFor;
  applyFilter: ApplyFilter;
  evaluate(node: Node, environment: unknown): Value;
};
/** Filters that see an undefined operand as the empty string, as jinja2 does. */
const EMPTY_STRING_FILTERS = new Set([
  "trim",
  "length",
  "count",
  "lower",
  "upper",
  "title",
  "capitalize",
  "string",
  "strip",
]);
const original = prototype.renderFor;

if (!(original as { patched?: boolean }).patched) {
  const renderFor: RenderFor = function (node, environment) {
    const select = node.iterable?.type === "SelectExpression";
    const target = select ? node.iterable!.lhs! : node.iterable!;
    if (
      (target.type === "Identifier" || target.type === "MemberExpression") &&
      prototype.evaluate.call(this, target, environment).type === "UndefinedValue"
    ) {
      const iterable = select ? { ...node.iterable!, lhs: EMPTY_LIST } : EMPTY_LIST;
      return original.call(this, { ...node, iterable }, environment);
    }
    return original.call(this, node, environment);
  };
  (renderFor as { patched?: boolean }).patched = true;
  prototype.renderFor = renderFor;

  const applyFilter = prototype.applyFilter;
  prototype.applyFilter = function (operand, filter, environment) {
    const name = filter.type === "Identifier" ? filter.value : undefined;
    if (operand.type === "UndefinedValue" && typeof name === "string" && EMPTY_STRING_FILTERS.has(name)) {
      const empty = prototype.evaluate.call(this, { type: "StringLiteral", value: "" }, environment);
      return applyFilter.call(this, empty, filter, environment);
    }
    return applyFilter.call(this, operand, filter, environment);
  };
}
