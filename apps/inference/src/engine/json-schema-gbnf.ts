import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * node-llama-cpp's JSON-schema-to-GBNF generator, the pure function behind `llama.createGrammarForJsonSchema`. That
 * method also parses the result in llama.cpp at once, on the event loop, and llama.cpp prints a grammar it cannot
 * parse to stderr, request text included; called alone, the generator writes text only, and grammar.ts decides when
 * llama.cpp sees it (after the limits, and after a probe without the literals: see grammar-literals.ts). The package
 * exports its index only, so the module is loaded by its file; a node-llama-cpp upgrade that moves it fails the
 * grammar tests at once.
 */
type Generate = (schema: unknown) => string;

let loaded: Promise<Generate> | undefined;

export function jsonSchemaGbnf(schema: Record<string, unknown>): Promise<string> {
  loaded ??= load();
  return loaded.then((generate) => generate(schema));
}

async function load(): Promise<Generate> {
  const index = createRequire(import.meta.url).resolve("node-llama-cpp");
  const file = join(dirname(index), "utils", "gbnfJson", "getGbnfGrammarForGbnfJsonSchema.js");
  const module = (await import(pathToFileURL(file).href)) as { getGbnfGrammarForGbnfJsonSchema?: Generate };
  if (typeof module.getGbnfGrammarForGbnfJsonSchema !== "function")
    throw new Error("node-llama-cpp's JSON schema grammar generator moved");
  return module.getGbnfGrammarForGbnfJsonSchema;
}
