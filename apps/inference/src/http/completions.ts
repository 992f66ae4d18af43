import { randomUUID } from "node:crypto";
import type { Token } from "node-llama-cpp";
import { CompletionRequest, type Completion, type CompletionLogprobs, type FinishReason } from "@slm/config";
import { type TokenLogprob, prepareCompletion } from "../engine/index.ts";
import type { Serving } from "../serving.ts";
import type { InferenceContext } from "./context.ts";
import { readRequest } from "./read-request.ts";
import { selectModel } from "./select-model.ts";
import { serveGeneration, type AnswerFormat, type ServeGenerationDeps } from "./serve-generation.ts";

/** POST /v1/completions: a raw prompt continued as is, JSON or SSE (`text_completion` chunks, then `[DONE]`). */
export async function completions(
  c: InferenceContext,
  served: Serving,
  deps: Omit<ServeGenerationDeps, "engine">,
): Promise<Response> {
  const request = await readRequest(c, CompletionRequest);
  const serving = selectModel(served, request.model);
  const prepared = await prepareCompletion(serving.engine, request);
  const id = `cmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const model = serving.modelName;
  const includeUsage = request.stream_options?.include_usage === true;
  const withLogprobs = prepared.logprobs !== undefined;
  // `echo`: the answer starts with the prompt, as given (token prompts are decoded).
  const echo = request.echo
    ? typeof request.prompt === "string"
      ? request.prompt
      : serving.engine.model.detokenize(request.prompt as Token[], true)
    : "";

  const answer = (
    index: number,
    text: string,
    finishReason: FinishReason | null,
    logprobs: CompletionLogprobs | null,
    usage?: Completion["usage"],
  ): Completion => ({
    id,
    object: "text_completion",
    created,
    model,
    system_fingerprint: null,
    choices: [{ text, index, logprobs, finish_reason: finishReason }],
    ...(usage !== undefined ? { usage } : includeUsage ? { usage: null } : {}),
  });
  const format: AnswerFormat = {
    complete: (choices, usage) => ({
      ...answer(0, "", null, null, usage),
      choices: choices.map((choice) => ({
        text: echo + choice.text,
        index: choice.index,
        logprobs: withLogprobs ? legacyLogprobs(choice.logprobs ?? [], echo.length) : null,
        finish_reason: choice.finishReason,
      })),
    }),
    choice: (index) => {
      // Offsets count from the start of this choice's text (after the echoed prompt).
      let offset = echo.length;
      return {
        ...(echo ? { start: () => answer(index, echo, null, withLogprobs ? legacyLogprobs([], 0) : null) } : {}),
        text: (text, tokens) => {
          const logprobs = withLogprobs ? legacyLogprobs(tokens ?? [], offset) : null;
          offset += text.length;
          return answer(index, text, null, logprobs);
        },
        finish: (finishReason) => answer(index, "", finishReason, null),
      };
    },
    ...(includeUsage ? { usage: (usage) => ({ ...answer(0, "", null, null, usage), choices: [] }) } : {}),
  };
  return serveGeneration(
    c,
    { ...deps, engine: serving.engine },
    {
      route: "/v1/completions",
      prepared,
      stream: request.stream === true,
      format,
    },
  );
}

/**
 * The legacy logprobs object: parallel arrays per token. `text_offset` is each token's offset in the choice's text,
 * counted from `start`, the offset of the first token (offsets assume each token's text is its own decoding, which
 * holds except for a multi-byte character split across tokens).
 */
export function legacyLogprobs(tokens: readonly TokenLogprob[], start: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = start;
  for (const entry of tokens) {
    out.tokens.push(entry.token);
    out.token_logprobs.push(entry.logprob);
    out.top_logprobs.push(Object.fromEntries(entry.top.map((t) => [t.token, t.logprob])));
    out.text_offset.push(offset);
    offset += entry.token.length;
  }
  return out;
}
