import { randomUUID } from "node:crypto";
import { ChatCompletionRequest, type ChatCompletion, type ChatCompletionChunk, type FinishReason } from "@slm/config";
import { prepareChat } from "../engine/prepare-chat.ts";
import { OutputSplitter, splitOutput, type OutputSyntax, type SplitText } from "../engine/prompt/index.ts";
import { parseToolCalls, ToolCallStream, toolMessage, type ToolStreamDelta } from "../engine/tools/index.ts";
import type { Serving } from "../serving.ts";
import type { InferenceContext } from "./context.ts";
import { readRequest } from "./read-request.ts";
import { selectModel } from "./select-model.ts";
import { serveGeneration, type AnswerFormat, type ServeGenerationDeps } from "./serve-generation.ts";

type Delta = ChatCompletionChunk["choices"][0]["delta"];

/**
 * POST /v1/chat/completions: JSON, or SSE chunks in OpenAI's format ending with `data: [DONE]`. A reasoning model's
 * thinking comes back as `reasoning_content` (message and deltas) unless the request asks for `reasoning_format: "none"`.
 * With tools, calls in the answer come back as `tool_calls` (finish_reason "tool_calls"); in a stream, each call as
 * a delta with its index, id and name, then deltas with fragments of its arguments.
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
  const tools = prepared.tools;
  // Under a forcing grammar every call started completes: its arguments can stream as they are generated.
  const toolStream = tools ? new ToolCallStream(tools.format, tools.names, tools.forced) : undefined;
  // A finished answer that made calls ends with "tool_calls" (one cut off by max_tokens stays "length").
  const finishWith = (reason: FinishReason, calls: number): FinishReason => (calls > 0 && reason === "stop" ? "tool_calls" : reason);

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
  /** The chunks for newly split text: text first, then each tool-call delta in its own chunk, as OpenAI sends them. */
  const deltaChunks = (split: SplitText, final: boolean) => {
    if (!toolStream) return deltaChunk(split);
    let found: ToolStreamDelta = toolStream.push(split.content);
    if (final) {
      const rest = toolStream.end();
      found = { content: found.content + rest.content, calls: [...found.calls, ...rest.calls] };
    }
    const chunks = [deltaChunk({ reasoning: split.reasoning, content: found.content })];
    for (const call of found.calls) chunks.push(chunk({ index: 0, delta: { tool_calls: [call] }, finish_reason: null, logprobs: null }));
    return chunks.filter((c) => c !== undefined);
  };
  const format: AnswerFormat = {
    complete: (text, finishReason, usage): ChatCompletion => {
      const split = splitOutput(syntax, text);
      const message = tools ? toolMessage(tools.format, parseToolCalls(tools.format, tools.names, split.content)) : { content: split.content };
      return {
        id,
        object: "chat.completion",
        created,
        model,
        system_fingerprint: null,
        choices: [
          {
            index: 0,
            message: { role: "assistant", ...message, ...(split.reasoning ? { reasoning_content: split.reasoning } : {}), refusal: null },
            finish_reason: finishWith(finishReason, message.tool_calls?.length ?? 0),
            logprobs: null,
          },
        ],
        usage,
      };
    },
    start: () => chunk({ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null, logprobs: null }),
    text: (text) => deltaChunks(splitter.push(text), false),
    end: () => deltaChunks(splitter.end(), true),
    finish: (finishReason) => chunk({ index: 0, delta: {}, finish_reason: finishWith(finishReason, toolStream?.ids.length ?? 0), logprobs: null }),
    ...(includeUsage ? { usage: (usage) => chunk(undefined, usage) } : {}),
  };
  return serveGeneration(c, { ...deps, engine: serving.engine }, {
    route: "/v1/chat/completions",
    prepared,
    stream: request.stream === true,
    format,
  });
}
