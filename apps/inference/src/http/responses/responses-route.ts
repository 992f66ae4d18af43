import { ResponseRequest } from "@slm/config";
import type { Serving } from "../../serving.ts";
import { prepareChatAnswer } from "../chat-completions.ts";
import type { InferenceContext } from "../context.ts";
import { readRequest } from "../read-request.ts";
import { serveGeneration, type ServeGenerationDeps } from "../serve-generation.ts";
import { responseFormat } from "./response-format.ts";
import { toChatRequest } from "./to-chat-request.ts";

/**
 * POST /v1/responses: the request is translated into a chat completion request and runs on the chat path (template,
 * grammar for `text.format`, tool calls, logprobs); the chat answer is spelled back as a Response object, or as the
 * Responses event stream. Nothing is stored.
 */
export async function responses(
  c: InferenceContext,
  served: Serving,
  deps: Omit<ServeGenerationDeps, "engine">,
): Promise<Response> {
  const request = await readRequest(c, ResponseRequest);
  const answer = await prepareChatAnswer(served, toChatRequest(request));
  return serveGeneration(
    c,
    { ...deps, engine: answer.serving.engine },
    {
      route: "/v1/responses",
      prepared: answer.prepared,
      stream: request.stream === true,
      format: responseFormat(request, answer.serving.modelName, answer.format),
    },
  );
}
