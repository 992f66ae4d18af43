import * as v from "valibot";

/**
 * The generation parameters chat completions and text completions share, as OpenAI names them, plus the common
 * extensions (top_k, min_p, repetition_penalty) that vLLM and llama-server accept under the same names.
 * Anything the engine cannot honour is refused with a 400 naming the field, never silently ignored.
 */

export const tokenCount = () => v.nullish(v.pipe(v.number(), v.integer("an integer"), v.minValue(1, "at least 1")));

/** A field that may be present only as null/undefined: the feature is not implemented, so asking for it is a 400. */
export const unsupported = (what: string) =>
  v.optional(
    v.pipe(
      v.unknown(),
      v.check((x) => x === undefined || x === null, `${what} is not supported`),
    ),
  );

const TokenId = v.pipe(v.number(), v.integer("an integer token id"), v.minValue(0, "a token id"));
export const tokenIds = () => v.pipe(v.array(TokenId), v.minLength(1, "at least one token"));

const JsonSchemaFormat = v.object({
  type: v.literal("json_schema"),
  json_schema: v.object({
    name: v.optional(v.pipe(v.string(), v.regex(/^[\w-]{1,64}$/, "a name of up to 64 letters, digits, _ or -"))),
    description: v.optional(v.string()),
    schema: v.optional(v.record(v.string(), v.unknown())),
    strict: v.nullish(v.boolean()),
  }),
});

/** `text` (default), `json_object` (any JSON object) or `json_schema` (enforced by a grammar built from the schema). */
export const ResponseFormat = v.variant(
  "type",
  [v.object({ type: v.literal("text") }), v.object({ type: v.literal("json_object") }), JsonSchemaFormat],
  'a response format of type "text", "json_object" or "json_schema"',
);
export type ResponseFormat = v.InferOutput<typeof ResponseFormat>;

/**
 * `prompt_cache_key` (OpenAI's name): requests sharing one share a prompt prefix (a conversation, a long system
 * prompt), so the gateway sends them to the same inference replica. Routing only: it changes no answer.
 */
export const promptCacheKey = () => v.nullish(v.pipe(v.string(), v.maxLength(1024, "at most 1024 characters")));

/** The schema's bound on `n`; a server's own limit (inference's PARALLEL, a key's maxChoices) is usually lower. */
export const MAX_CHOICES = 128;

const penalty = () => v.nullish(v.pipe(v.number(), v.minValue(-2, "from -2 to 2"), v.maxValue(2, "from -2 to 2")));

/**
 * The sampler's parameters: the engine maps each onto llama.cpp's sampler chain (inference's `engine/sampling.ts`,
 * where its default lives). A new one is declared here and mapped there; nothing in between names it.
 */
export const samplingParams = {
  temperature: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
  top_p: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  /** 0 or -1 disable it (the vLLM convention), like OpenAI which has no top_k. */
  top_k: v.nullish(v.pipe(v.number(), v.integer("an integer"), v.minValue(-1, "-1, 0 (off) or a positive integer"))),
  min_p: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  seed: v.nullish(v.pipe(v.number(), v.integer("an integer"))),
  presence_penalty: penalty(),
  frequency_penalty: penalty(),
  /** Multiplicative penalty on tokens already in the prompt or output (1 = off), as in vLLM and llama.cpp. */
  repetition_penalty: v.nullish(v.pipe(v.number(), v.gtValue(0, "greater than 0"), v.maxValue(10, "at most 10"))),
  /** Token id (as a string key) -> bias added to its logit, from -100 (never) to 100. */
  logit_bias: v.nullish(
    v.pipe(
      v.record(
        v.pipe(v.string(), v.regex(/^\d{1,9}$/, "token ids as keys")),
        v.pipe(v.number(), v.minValue(-100, "from -100 to 100"), v.maxValue(100, "from -100 to 100")),
      ),
      v.check((bias) => Object.keys(bias).length <= 1024, "at most 1024 entries"),
    ),
  ),
};

/** The parsed sampling parameters, as the engine receives them. */
export type SamplingParams = v.InferOutput<v.ObjectSchema<typeof samplingParams, undefined>>;

export const generationParams = {
  ...samplingParams,
  stop: v.nullish(
    v.union(
      [v.string(), v.pipe(v.array(v.string()), v.maxLength(4, "at most 4 stop sequences"))],
      "a string or a list of up to 4 strings",
    ),
  ),
  response_format: v.nullish(ResponseFormat),
  stream: v.nullish(v.boolean()),
  stream_options: v.nullish(v.object({ include_usage: v.optional(v.boolean()) })),
  /** Choices to generate, each on its own sequence (inference refuses more than its PARALLEL). */
  n: v.nullish(
    v.pipe(
      v.number(),
      v.integer("an integer"),
      v.minValue(1, "at least 1"),
      v.maxValue(MAX_CHOICES, `at most ${MAX_CHOICES}`),
    ),
  ),
  user: v.optional(v.string()),
  /** OpenAI's prompt cache key: which conversation a request continues. The gateway routes by it; inference ignores it. */
  prompt_cache_key: promptCacheKey(),
};

/** The parsed generation parameters, as both request schemas output them. */
export type GenerationParams = v.InferOutput<v.ObjectSchema<typeof generationParams, undefined>> & {
  /** max_completion_tokens ?? max_tokens, when either is given. */
  maxTokens: number | undefined;
};
