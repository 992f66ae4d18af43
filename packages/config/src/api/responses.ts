import * as v from "valibot";
import { promptCacheKey, tokenCount } from "./generation-params.ts";
import { maxJsonDepth } from "./json-depth.ts";

/**
 * OpenAI's Responses API (POST /v1/responses), as both apps speak it: the request is validated here and answered on
 * the chat completions path (inference translates it into a chat request and the chat answer back). Inference is
 * stateless: no response is stored, so `previous_response_id` is refused and `store: true` is accepted but stores
 * nothing (the answer says `store: false`). The gateway stores responses and answers `previous_response_id` and
 * `item_reference` items before inference, with this schema plus those (apps/gateway/src/responses/request-schema.ts),
 * sending inference the whole conversation in `input`.
 */

const InputText = v.object({ type: v.literal("input_text"), text: v.string() });
const OutputText = v.object({
  type: v.literal("output_text"),
  text: v.string(),
  annotations: v.optional(v.array(v.unknown())),
});
const Refusal = v.object({ type: v.literal("refusal"), refusal: v.string() });

/** A message in `input`: `{role, content}` with or without `type: "message"`; content a string or text parts. */
export const ResponseInputMessage = v.object({
  type: v.optional(v.literal("message")),
  id: v.optional(v.string()),
  status: v.optional(v.string()),
  role: v.picklist(["user", "assistant", "system", "developer"], 'one of "user", "assistant", "system", "developer"'),
  content: v.union(
    [
      v.string(),
      v.array(
        v.variant("type", [InputText, OutputText, Refusal], 'text parts ("input_text", "output_text" or "refusal")'),
      ),
    ],
    "a string or an array of text parts",
  ),
});

/** A call the model made earlier (as a previous response's output gave it). */
export const ResponseFunctionCall = v.object({
  type: v.literal("function_call"),
  id: v.optional(v.string()),
  call_id: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  name: v.pipe(v.string(), v.regex(/^[\w-]{1,64}$/, "a name of up to 64 letters, digits, _ or -")),
  arguments: v.string(),
  status: v.optional(v.string()),
});

/** The caller's result for a function call. */
export const ResponseFunctionCallOutput = v.object({
  type: v.literal("function_call_output"),
  id: v.optional(v.string()),
  call_id: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  output: v.union([v.string(), v.array(InputText)], 'a string or an array of {"type":"input_text"} parts'),
  status: v.optional(v.string()),
});

/** A reasoning item sent back by a client: accepted and left out of the prompt (templates drop past thinking). */
const ResponseReasoningInput = v.object({ type: v.literal("reasoning"), id: v.optional(v.string()) });

export const ResponseInputItem = v.union(
  [ResponseInputMessage, ResponseFunctionCall, ResponseFunctionCallOutput, ResponseReasoningInput],
  'a message, "function_call", "function_call_output" or "reasoning" item',
);
export type ResponseInputItem = v.InferOutput<typeof ResponseInputItem>;

/** A function tool, in the Responses API's flat shape (no `function` wrapper). */
export const ResponseFunctionTool = v.object({
  type: v.literal("function", 'only tools of type "function" are supported'),
  name: v.pipe(v.string(), v.regex(/^[\w-]{1,64}$/, "a name of up to 64 letters, digits, _ or -")),
  description: v.nullish(v.string()),
  parameters: v.nullish(v.pipe(v.record(v.string(), v.unknown()), maxJsonDepth())),
  strict: v.nullish(v.boolean()),
});
export type ResponseFunctionTool = v.InferOutput<typeof ResponseFunctionTool>;

const ResponseTextFormat = v.variant(
  "type",
  [
    v.object({ type: v.literal("text") }),
    v.object({ type: v.literal("json_object") }),
    v.object({
      type: v.literal("json_schema"),
      name: v.pipe(v.string(), v.regex(/^[\w-]{1,64}$/, "a name of up to 64 letters, digits, _ or -")),
      description: v.optional(v.string()),
      schema: v.record(v.string(), v.unknown()),
      strict: v.nullish(v.boolean()),
    }),
  ],
  'a format of type "text", "json_object" or "json_schema"',
);
export type ResponseTextFormat = v.InferOutput<typeof ResponseTextFormat>;

/** The one `include` value that changes the answer: the output text's token logprobs. */
export const RESPONSE_INCLUDE_LOGPROBS = "message.output_text.logprobs";

const notStored =
  "previous_response_id is not supported: this server stores no responses (store: false); send the whole conversation in input";

export const ResponseRequest = v.object({
  model: v.optional(v.pipe(v.string(), v.maxLength(256))),
  input: v.union(
    [v.string(), v.pipe(v.array(ResponseInputItem), v.minLength(1, "at least one item"))],
    "a string or an array of input items",
  ),
  /** A system message placed before the input. */
  instructions: v.nullish(v.string()),
  max_output_tokens: tokenCount(),
  temperature: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
  top_p: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  text: v.nullish(
    v.object({ format: v.optional(ResponseTextFormat), verbosity: v.nullish(v.picklist(["low", "medium", "high"])) }),
  ),
  tools: v.nullish(v.pipe(v.array(ResponseFunctionTool), v.maxLength(128, "at most 128 tools"))),
  tool_choice: v.nullish(
    v.union(
      [v.picklist(["none", "auto", "required"]), v.object({ type: v.literal("function"), name: v.string() })],
      '"none", "auto", "required" or {"type":"function","name":...}',
    ),
  ),
  parallel_tool_calls: v.nullish(v.boolean()),
  stream: v.nullish(v.boolean()),
  /** Accepted either way; nothing is ever stored (the answer says `store: false`). */
  store: v.nullish(v.boolean()),
  previous_response_id: v.optional(
    v.pipe(
      v.unknown(),
      v.check((x) => x === undefined || x === null, notStored),
    ),
  ),
  include: v.nullish(
    v.array(v.picklist([RESPONSE_INCLUDE_LOGPROBS], `only "${RESPONSE_INCLUDE_LOGPROBS}" can be included`)),
  ),
  top_logprobs: v.nullish(
    v.pipe(v.number(), v.integer("an integer"), v.minValue(0, "from 0 to 20"), v.maxValue(20, "from 0 to 20")),
  ),
  metadata: v.nullish(
    v.pipe(
      v.record(v.pipe(v.string(), v.maxLength(64)), v.pipe(v.string(), v.maxLength(512))),
      v.check((m) => Object.keys(m).length <= 16, "at most 16 keys"),
    ),
  ),
  truncation: v.nullish(v.literal("disabled", 'only "disabled" (a prompt that does not fit is a 400)')),
  reasoning: v.optional(
    v.pipe(
      v.unknown(),
      v.check((x) => x === undefined || x === null, "reasoning options are not supported"),
    ),
  ),
  background: v.optional(
    v.pipe(
      v.unknown(),
      v.check((x) => x === undefined || x === null || x === false, "background responses are not supported"),
    ),
  ),
  conversation: v.optional(
    v.pipe(
      v.unknown(),
      v.check((x) => x === undefined || x === null, "conversations are not supported (nothing is stored)"),
    ),
  ),
  user: v.optional(v.string()),
  /** Routing only (the gateway keeps requests sharing one on one replica); see generation-params.ts. */
  prompt_cache_key: promptCacheKey(),
});
export type ResponseRequest = v.InferOutput<typeof ResponseRequest>;
export type ResponseRequestInput = v.InferInput<typeof ResponseRequest>;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] }>;
}

export interface ResponseOutputText {
  type: "output_text";
  text: string;
  annotations: unknown[];
  logprobs?: ResponseLogprob[];
}

export interface ResponseOutputMessage {
  type: "message";
  id: string;
  status: "in_progress" | "completed" | "incomplete";
  role: "assistant";
  content: ResponseOutputText[];
}

export interface ResponseFunctionCallItem {
  type: "function_call";
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: "in_progress" | "completed" | "incomplete";
}

export interface ResponseReasoningItem {
  type: "reasoning";
  id: string;
  summary: unknown[];
  content: Array<{ type: "reasoning_text"; text: string }>;
  status?: "in_progress" | "completed" | "incomplete";
}

export type ResponseOutputItem = ResponseOutputMessage | ResponseFunctionCallItem | ResponseReasoningItem;

/** The Response object (JSON answer, and inside response.created / response.completed events). */
export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  status: "in_progress" | "completed" | "incomplete";
  error: null;
  incomplete_details: { reason: "max_output_tokens" } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: ResponseOutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: null;
  reasoning: { effort: null; summary: null };
  store: false;
  temperature: number;
  text: { format: ResponseTextFormat };
  tool_choice: NonNullable<ResponseRequest["tool_choice"]>;
  tools: Array<
    ResponseFunctionTool & {
      strict: boolean | null;
      description: string | null;
      parameters: Record<string, unknown> | null;
    }
  >;
  top_p: number;
  truncation: "disabled";
  usage: ResponseUsage | null;
  user: string | null;
  metadata: Record<string, string>;
}

/** One event of a streamed response: `type` names it; `sequence_number` counts from 0. */
export interface ResponseStreamEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}
