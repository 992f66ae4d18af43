import type { Token } from "node-llama-cpp";
import { ApiError, type CompletionRequest } from "@slm/config";
import type { Engine } from "./load-engine.ts";
import { tokenizePrompt } from "./prompt/index.ts";
import { prepareGeneration, type PrepareGenerationOptions, type PreparedGeneration } from "./prepare-generation.ts";

export type CompletionInput = Pick<CompletionRequest, "prompt"> &
  Partial<Pick<CompletionRequest, "logprobs">> &
  PrepareGenerationOptions["params"];

/**
 * A raw prompt, continued as is (no chat template). Text is tokenized like llama-server does (BOS added when the
 * vocabulary asks for it, special tokens such as `<s>` recognised); token ids are taken as given, as llama-server
 * takes them, once checked against the vocabulary.
 */
export async function prepareCompletion(engine: Engine, request: CompletionInput): Promise<PreparedGeneration> {
  return prepareGeneration(engine, {
    prompt: promptTokens(engine, request.prompt),
    params: request,
    promptField: "prompt",
    logprobs: request.logprobs ?? undefined,
  });
}

export function promptTokens(engine: Engine, prompt: string | number[]): Token[] {
  if (typeof prompt === "string") return tokenizePrompt(engine.model, prompt);
  const outside = prompt.find((t) => t >= engine.vocabularySize);
  if (outside !== undefined) {
    throw new ApiError(
      400,
      "invalid_request_error",
      "invalid_prompt",
      `prompt: token id ${outside} is outside the vocabulary (0 to ${engine.vocabularySize - 1}).`,
      "prompt",
    );
  }
  return prompt as Token[];
}
