import * as v from "valibot";
import { tokenIds } from "./generation-params.ts";

/** OpenAI's embeddings API. */

/** Inputs per request (OpenAI's limit). */
export const MAX_EMBEDDING_INPUTS = 2048;

export const EmbeddingRequest = v.pipe(
  v.object({
    model: v.optional(v.pipe(v.string(), v.maxLength(256))),
    input: v.union(
      [
        v.pipe(v.string(), v.minLength(1, "a non-empty string")),
        v.pipe(
          v.array(v.pipe(v.string(), v.minLength(1, "a non-empty string"))),
          v.minLength(1, "at least one input"),
          v.maxLength(MAX_EMBEDDING_INPUTS, `at most ${MAX_EMBEDDING_INPUTS} inputs`),
        ),
        tokenIds(),
        v.pipe(v.array(tokenIds()), v.minLength(1, "at least one input"), v.maxLength(MAX_EMBEDDING_INPUTS)),
      ],
      "a string, a list of strings, token ids or a list of token id lists",
    ),
    encoding_format: v.nullish(v.picklist(["float", "base64"], '"float" or "base64"')),
    dimensions: v.nullish(v.pipe(v.number(), v.integer("an integer"), v.minValue(1, "at least 1"))),
    user: v.optional(v.string()),
  }),
  v.transform((r) => {
    // One list of inputs, each a string or token ids.
    const inputs: Array<string | number[]> =
      typeof r.input === "string"
        ? [r.input]
        : typeof r.input[0] === "number"
          ? [r.input as number[]]
          : (r.input as Array<string | number[]>);
    return { ...r, inputs };
  }),
);
export type EmbeddingRequest = v.InferOutput<typeof EmbeddingRequest>;

export interface EmbeddingList {
  object: "list";
  data: Array<{ object: "embedding"; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}
