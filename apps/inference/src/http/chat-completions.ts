import { randomUUID } from "node:crypto";
import { ChatCompletionRequest, type ChatCompletion, type ChatCompletionChunk } from "@slm/config";
import { prepareChat } from "../engine/prepare-chat.ts";
import { OutputSplitter, splitOutput, type OutputSyntax, type SplitText } from "../engine/prompt/index.ts";
import type { Serving } from "../serving.ts";
import type { InferenceContext } from "./context.ts";
import { readRequest } from "./read-request.ts";
import { selectModel } from "./select-model.ts";
import { serveGeneration, type AnswerFormat, type ServeGenerationDeps } from "./serve-generation.ts";

type Delta = ChatCompletionChunk["choices"][0]["delta"];

/**
 * POST /v1/chat/completions: JSON, or SSE chunks in OpenAI's format ending with `data: [DONE]`. A reasoning model's
 * thinking comes back as `reasoning_content` (message and deltas) unless the request asks for `reasoning_format: "none"`.
 */
export async function chatCompletions(c: InferenceContext, served: Serving, deps: Omit<ServeGenerationDeps, "engine">): Promise<Response> {
  const request = await readRequest(c, ChatCompletionRequest);
  const serving = selectModel(served, request.model);
  const prepared = await prepareChat(serving.engine, serving.template, request);
  const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const model = serving.modelName;
  const includeUsage = request.stream_options?.include_usage === true;
  const syntax: OutputSyntax = {
    tags: serving.template.reasoningTags,
    generationPrompt: prepared.generationPrompt,
    tools: (request.tools?.length ?? 0) > 0 && request.tool_choice !== "none",
    raw: request.reasoning_format === "none",
  };
  const splitter = new OutputSplitter(syntax);

  const chunk = (choice: ChatCompletionChunk["choices"][0] | undefined, usage?: ChatCompletionChunk["usage"]): ChatCompletionChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    system_fingerprint: null,
    choices: choice ? [choice] : [],
    ...(includeUsage ? { usage: usage ?? null } : {}),
  });
  const deltaChunk = (split: SplitText) => {
    const delta: Delta = {};
    if (split.reasoning) delta.reasoning_content = split.reasoning;
    if (split.content) delta.content = split.content;
    return split.reasoning || split.content ? chunk({ index: 0, delta, finish_reason: null, logprobs: null }) : undefined;
  };
  const format: AnswerFormat = {
    complete: (text, finishReason, usage): ChatCompletion => {
      const split = splitOutput(syntax, text);
      return {
        id,
        object: "chat.completion",
        created,
        model,
        system_fingerprint: null,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: split.content, ...(split.reasoning ? { reasoning_content: split.reasoning } : {}), refusal: null },
            finish_reason: finishReason,
            logprobs: null,
          },
        ],
        usage,
      };
    },
    start: () => chunk({ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null, logprobs: null }),
    text: (text) => deltaChunk(splitter.push(text)),
    end: () => deltaChunk(splitter.end()),
    finish: (finishReason) => chunk({ index: 0, delta: {}, finish_reason: finishReason, logprobs: null }),
    ...(includeUsage ? { usage: (usage) => chunk(undefined, usage) } : {}),
  };
  return serveGeneration(c, { ...deps, engine: serving.engine }, {
    route: "/v1/chat/completions",
    prepared,
    stream: request.stream === true,
    format,
  });
}
