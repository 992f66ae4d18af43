import { LlamaText, type Llama, type LlamaGrammar } from "node-llama-cpp";
import type { ResponseFormat } from "@slm/config";
import { createHash } from "node:crypto";
import { DEFAULT_GRAMMAR_LIMITS, type GrammarLimits, schemaError } from "./grammar-limits.ts";
import { withoutLiteralText } from "./grammar-literals.ts";
import { jsonSchemaToGbnf } from "./json-schema/index.ts";

/**
 * `response_format` as a grammar the sampler enforces token by token: `json_object` uses llama.cpp's JSON grammar,
 * `json_schema` a grammar generated from the schema by our converter (json-schema/, after llama.cpp's own). The
 * promise is that every output parses and validates against the schema, so a keyword the grammar cannot enforce
 * (multipleOf 3, uniqueItems, a lookahead in a pattern, ...) is a 400 `unsupported_schema`, not a silent hope. Where
 * the grammar is stricter than the schema the output still validates (no undeclared property unless
 * additionalProperties asks for them, at most 16 integral digits, dates to the 28th of February, ...).
 */

const PARAM = "response_format.json_schema.schema";

export interface GrammarCacheOptions {
  llama: Llama;
  /** Distinct grammars kept compiled. Default 64. */
  maxEntries?: number;
  /** What a schema may ask of the grammar (see grammar-limits.ts). Default DEFAULT_GRAMMAR_LIMITS. */
  limits?: GrammarLimits | undefined;
}

/** A schema checked against the limits and converted, with the key of its grammar. */
export interface CheckedSchema {
  gbnf: string;
  /** A digest of the GBNF: schemas that differ in key order or annotations only share it. */
  key: string;
}

/**
 * Compiled grammars, the most recently used kept (an LRU keyed by the digest of the generated GBNF, or by the
 * caller's key for assembled GBNF). A schema is checked against the limits and converted on every request, before
 * any lookup: a cached grammar never lets an over-limit schema through, and the conversion is near linear in the
 * schema's size (milliseconds for the largest schema the limits allow; llama.cpp's parse, the costly part, is cached).
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
      this.compile(checked.gbnf, PARAM, {
        stopGenerationTriggers: [LlamaText(["\n".repeat(4)])],
        trimWhitespaceSuffix: true,
      }),
    );
  }

  /** Checks a schema against the limits and converts it; a 400 naming `param` and the path in the schema if it cannot. */
  check(schema: Record<string, unknown>, param: string): CheckedSchema {
    const gbnf = jsonSchemaToGbnf(schema, param, this.limits);
    return { gbnf, key: createHash("sha256").update(gbnf).digest("hex") };
  }

  /**
   * The GBNF text for a JSON schema, checked as for `response_format` (a 400 naming `param` when it cannot be
   * enforced): for grammars that embed it (tool calls' arguments).
   */
  async schemaGbnf(schema: Record<string, unknown>, param: string): Promise<string> {
    return this.check(schema, param).gbnf;
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
