import { randomUUID } from "node:crypto";
import type { Token } from "node-llama-cpp";
import { CompletionRequest, type Completion, type FinishReason } from "@slm/config";
import { prepareCompletion } from "../engine/prepare-completion.ts";
import type { Serving } from "../serving.ts";
import type { InferenceContext } from "./context.ts";
import { readRequest } from "./read-request.ts";
import { selectModel } from "./select-model.ts";
import { serveGeneration, type AnswerFormat, type ServeGenerationDeps } from "./serve-generation.ts";

/** POST /v1/completions: a raw prompt continued as is, JSON or SSE (`text_completion` chunks, then `[DONE]`). */
export async function completions(c: InferenceContext, served: Serving, deps: Omit<ServeGenerationDeps, "engine">): Promise<Response> {
  const request = await readRequest(c, CompletionRequest);
  const serving = selectModel(served, request.model);
  const prepared = await prepareCompletion(serving.engine, request);
  const id = `cmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const model = serving.modelName;
  const includeUsage = request.stream_options?.include_usage === true;
  // `echo`: the answer starts with the prompt, as given (token prompts are decoded).
  const echo = request.echo
    ? typeof request.prompt === "string"
      ? request.prompt
      : serving.engine.model.detokenize(request.prompt as Token[], true)
    : "";

  const answer = (text: string, finishReason: FinishReason | null, usage?: Completion["usage"]): Completion => ({
    id,
    object: "text_completion",
    created,
    model,
    system_fingerprint: null,
    choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }],
    ...(usage !== undefined ? { usage } : includeUsage ? { usage: null } : {}),
  });
  const format: AnswerFormat = {
    complete: (text, finishReason, usage) => answer(echo + text, finishReason, usage),
    ...(echo ? { start: () => answer(echo, null) } : {}),
    text: (text) => answer(text, null),
    finish: (finishReason) => answer("", finishReason),
    ...(includeUsage ? { usage: (usage) => ({ ...answer("", null, usage), choices: [] }) } : {}),
  };
  return serveGeneration(c, { ...deps, engine: serving.engine }, {
    route: "/v1/completions",
    prepared,
    stream: request.stream === true,
    format,
  });
}
