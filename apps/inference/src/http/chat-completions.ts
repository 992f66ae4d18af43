import { randomUUID } from "node:crypto";
import {
  ChatCompletionRequest,
  type ChatChoiceLogprobs,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatTokenLogprob,
  type FinishReason,
} from "@slm/config";
import { type TokenLogprob, prepareChat, type PreparedChat } from "../engine/index.ts";
import { OutputSplitter, splitOutput, type OutputSyntax, type SplitText } from "../engine/prompt/index.ts";
import { parseToolCalls, ToolCallStream, toolMessage, type ToolStreamDelta } from "../engine/tools/index.ts";
import type { Serving } from "../serving.ts";
import type { InferenceContext } from "./context.ts";
import { readRequest } from "./read-request.ts";
import { selectModel } from "./select-model.ts";
import { serveGeneration, type AnswerFormat, type ServeGenerationDeps } from "./serve-generation.ts";

type Delta = ChatCompletionChunk["choices"][0]["delta"];
type ChunkChoice = ChatCompletionChunk["choices"][0];

/**
 * POST /v1/chat/completions: JSON, or SSE chunks in OpenAI's format ending with `data: [DONE]`. A reasoning model's
 * thinking comes back as `reasoning_content` (message and deltas) unless the request asks for `reasoning_format: "none"`.
 * With tools, calls in the answer come back as `tool_calls` (finish_reason "tool_calls"); in a stream, each call as
 * a delta with its index, id and name, then deltas with fragments of its arguments. A named function or
 * `parallel_tool_calls: false` keeps one call; a call cut by max_tokens comes back as a call with its arguments so far
 * (finish_reason "length"), never as content. With `n`, every choice is parsed on its own.
 */
export async function chatCompletions(
  c: InferenceContext,
  served: Serving,
  deps: Omit<ServeGenerationDeps, "engine">,
): Promise<Response> {
  const request = await readRequest(c, ChatCompletionRequest);
  const answer = await prepareChatAnswer(served, request);
  return serveGeneration(
    c,
    { ...deps, engine: answer.serving.engine },
    {
      route: "/v1/chat/completions",
      prepared: answer.prepared,
      stream: request.stream === true,
      format: answer.format,
    },
  );
}

/** A chat request ready to run: the model serving it, the prepared generation, and its answer as chat objects. */
export interface ChatAnswer {
  serving: Serving;
  prepared: PreparedChat;
  /** JSON: a ChatCompletion; stream: ChatCompletionChunk objects. */
  format: AnswerFormat;
}

/** Everything about a chat answer but the HTTP exchange; the Responses API builds on it. */
export async function prepareChatAnswer(served: Serving, request: ChatCompletionRequest): Promise<ChatAnswer> {
  const serving = selectModel(served, request.model);
  const prepared = await prepareChat(serving.engine, serving.template, request);
  const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const model = serving.modelName;
  const includeUsage = request.stream_options?.include_usage === true;
  const withLogprobs = prepared.logprobs !== undefined;
  const syntax: OutputSyntax = {
    tags: serving.template.reasoningTags,
    generationPrompt: prepared.generationPrompt,
    tools: (request.tools?.length ?? 0) > 0 && request.tool_choice !== "none",
    raw: request.reasoning_format === "none",
  };
  const tools = prepared.tools;
  // A finished answer that made calls ends with "tool_calls" (one cut off by max_tokens stays "length").
  const finishWith = (reason: FinishReason, calls: number): FinishReason =>
    calls > 0 && reason === "stop" ? "tool_calls" : reason;

  const chunk = (choice: ChunkChoice | undefined, usage?: ChatCompletionChunk["usage"]): ChatCompletionChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    system_fingerprint: null,
    choices: choice ? [choice] : [],
    ...(includeUsage ? { usage: usage ?? null } : {}),
  });
  const format: AnswerFormat = {
    complete: (choices, usage): ChatCompletion => ({
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: null,
      choices: choices.map((choice) => {
        const split = splitOutput(syntax, choice.text);
        const message = tools
          ? toolMessage(
              tools.format,
              parseToolCalls(tools.format, tools.names, split.content, {
                maxCalls: tools.maxCalls,
                cut: choice.finishReason === "length",
              }),
            )
          : { content: split.content };
        return {
          index: choice.index,
          message: {
            role: "assistant",
            ...message,
            ...(split.reasoning ? { reasoning_content: split.reasoning } : {}),
            refusal: null,
          },
          finish_reason: finishWith(choice.finishReason, message.tool_calls?.length ?? 0),
          logprobs: withLogprobs ? chatLogprobs(choice.logprobs ?? []) : null,
        };
      }),
      usage,
    }),
    choice: (index) => {
      const splitter = new OutputSplitter(syntax);
      // Under a forcing grammar every call started completes: its arguments can stream as they are generated.
      const toolStream = tools
        ? new ToolCallStream(tools.format, tools.names, tools.forced, { maxCalls: tools.maxCalls })
        : undefined;
      // Logprobs of tokens whose text the splitter still holds: they go out with the next chunk of this choice.
      let held: TokenLogprob[] = [];
      const logprobs = () => {
        if (!withLogprobs) return null;
        const out = chatLogprobs(held);
        held = [];
        return out;
      };
      const deltaChunk = (split: SplitText) => {
        const delta: Delta = {};
        if (split.reasoning) delta.reasoning_content = split.reasoning;
        if (split.content) delta.content = split.content;
        return split.reasoning || split.content
          ? chunk({ index, delta, finish_reason: null, logprobs: logprobs() })
          : undefined;
      };
      /** The chunks for newly split text: text first, then each tool-call delta in its own chunk, as OpenAI sends them. */
      const deltaChunks = (split: SplitText, final: boolean, cut = false) => {
        if (!toolStream) return deltaChunk(split);
        let found: ToolStreamDelta = toolStream.push(split.content);
        if (final) {
          const rest = toolStream.end(cut);
          found = { content: found.content + rest.content, calls: [...found.calls, ...rest.calls] };
        }
        const chunks = [deltaChunk({ reasoning: split.reasoning, content: found.content })];
        for (const call of found.calls)
          chunks.push(
            chunk({
              index,
              delta: { tool_calls: [call] },
              finish_reason: null,
              logprobs: held.length > 0 ? logprobs() : null,
            }),
          );
        return chunks.filter((c) => c !== undefined);
      };
      return {
        start: () => chunk({ index, delta: { role: "assistant", content: "" }, finish_reason: null, logprobs: null }),
        text: (text, tokens) => {
          if (tokens) held.push(...tokens);
          return deltaChunks(splitter.push(text), false);
        },
        end: (finishReason) => deltaChunks(splitter.end(), true, finishReason === "length"),
        finish: (finishReason) =>
          chunk({
            index,
            delta: {},
            finish_reason: finishWith(finishReason, toolStream?.ids.length ?? 0),
            logprobs: held.length > 0 ? logprobs() : null,
          }),
      };
    },
    ...(includeUsage ? { usage: (usage) => chunk(undefined, usage) } : {}),
  };
  return { serving, prepared, format };
}

/** OpenAI's chat logprobs object (llama-server's shape: with each token's id). */
export function chatLogprobs(tokens: readonly TokenLogprob[]): ChatChoiceLogprobs {
  return { content: tokens.map(chatTokenLogprob), refusal: null };
}

function chatTokenLogprob(entry: TokenLogprob): ChatTokenLogprob {
  return {
    id: entry.id,
    token: entry.token,
    logprob: entry.logprob,
    bytes: entry.bytes,
    top_logprobs: entry.top.map((t) => ({ id: t.id, token: t.token, logprob: t.logprob, bytes: t.bytes })),
  };
}
