import type { SchemaPath } from "../grammar-limits.ts";

/**
 * A JSON schema read into what the grammar can write (as llama.cpp's `common_chat_schema` reads one before converting
 * it): each node one kind, its bounds resolved, its expressions for numbers, patterns and formats already built.
 * Every node remembers where it came from, for messages.
 */
export type Node = (
  | { kind: "any" }
  | { kind: "ref"; pointer: string }
  | { kind: "anyOf"; alts: Node[] }
  | { kind: "literal"; values: unknown[] }
  | { kind: "null" }
  | { kind: "boolean" }
  /** `range` is a GBNF expression for bounded numbers; undefined: any integer / number. */
  | { kind: "integer"; range: string | undefined }
  | { kind: "number"; range: string | undefined }
  /** `expr` is the whole JSON string (quotes included) for a pattern or a format; else lengths bound `char`s. */
  | { kind: "string"; expr?: string; rules?: Record<string, string>; minLength: number; maxLength: number | undefined }
  | { kind: "array"; prefix: Node[]; items: Node | undefined; minRest: number; maxRest: number | undefined }
  | {
      kind: "object";
      props: Property[];
      /** Values of undeclared properties (keys are any other string), or undefined: none. */
      additional: Node | undefined;
      /** The keys of undeclared properties (propertyNames), when no property is declared. */
      keys: Node | undefined;
      minAdditional: number;
      maxAdditional: number | undefined;
    }
) & { path: SchemaPath };

export interface Property {
  name: string;
  node: Node;
  required: boolean;
}
