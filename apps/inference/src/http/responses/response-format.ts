import { randomUUID } from "node:crypto";
import type {
  ChatChoiceLogprobs,
  ResponseFunctionCallItem,
  ResponseLogprob,
  ResponseObject,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponseReasoningItem,
  ResponseRequest,
  ResponseStreamEvent,
  ResponseUsage,
  Usage,
} from "@slm/config";
import type { AnswerFormat, Chunks } from "../serve-generation.ts";

/** What the chat path's answers hold, read loosely: tool calls appear once the chat path parses them. */
interface ChatToolCall {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}
interface ChatMessageLike {
  content?: string | null;
  reasoning_content?: string;
  tool_calls?: ChatToolCall[];
}
interface ChatChoiceLike {
  message?: ChatMessageLike;
  delta?: ChatMessageLike;
  finish_reason: string | null;
  logprobs: ChatChoiceLogprobs | null;
}
interface ChatAnswerLike {
  choices: ChatChoiceLike[];
  usage?: Usage | null;
}

const encoder = new TextEncoder();
const newId = (prefix: string) => `${prefix}_${randomUUID().replaceAll("-", "")}`;

/**
 * The Responses API's answer, made from the chat path's: the chat format's ChatCompletion becomes a Response object,
 * its stream chunks become the Responses event sequence (response.created, response.in_progress, then per output
 * item: output_item.added, content_part.added, output_text.delta..., output_text.done, content_part.done,
 * output_item.done, or function_call_arguments.delta/done for a call; finally response.completed, or
 * response.incomplete when max_output_tokens cut it), each with its `sequence_number`, framed as
 * `event: <type>` + `data:`. No `[DONE]`: the Responses stream ends with its last event.
 */
export function responseFormat(request: ResponseRequest, model: string, chat: AnswerFormat): AnswerFormat {
  const id = newId("resp");
  const createdAt = Math.floor(Date.now() / 1000);
  const withLogprobs = request.include?.includes("message.output_text.logprobs") === true;
  const base = (): ResponseObject => ({
    id,
    object: "response",
    created_at: createdAt,
    status: "in_progress",
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model,
    output: [],
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: request.temperature ?? 1,
    text: { format: request.text?.format ?? { type: "text" } },
    tool_choice: request.tool_choice ?? "auto",
    tools: (request.tools ?? []).map((t) => ({
      ...t,
      description: t.description ?? null,
      parameters: t.parameters ?? null,
      strict: t.strict ?? null,
    })),
    top_p: request.top_p ?? 1,
    truncation: "disabled",
    usage: null,
    user: request.user ?? null,
    metadata: request.metadata ?? {},
  });
  const finished = (response: ResponseObject, finishReason: string | null, usage: Usage): ResponseObject => ({
    ...response,
    status: finishReason === "length" ? "incomplete" : "completed",
    incomplete_details: finishReason === "length" ? { reason: "max_output_tokens" } : null,
    usage: responseUsage(usage),
  });

  // The request's one stream (a Responses answer has one choice).
  let stream: ResponseEventStream | undefined;
  return {
    complete: (choices, usage) => {
      const answer = chat.complete(choices, usage) as ChatAnswerLike;
      const choice = answer.choices[0]!;
      const message = choice.message ?? {};
      const output: ResponseOutputItem[] = [];
      if (message.reasoning_content) output.push(reasoningItem(message.reasoning_content, "completed"));
      if (message.content)
        output.push(
          messageItem(message.content, withLogprobs ? responseLogprobs(choice.logprobs) : undefined, "completed"),
        );
      for (const call of message.tool_calls ?? [])
        output.push(
          functionCallItem(
            call.id ?? newId("call"),
            call.function?.name ?? "",
            call.function?.arguments ?? "",
            "completed",
          ),
        );
      return { ...finished(base(), choice.finish_reason, usage), output };
    },
    choice: (index) => {
      const chatChoice = chat.choice(index);
      const events = new ResponseEventStream(base(), withLogprobs);
      stream = events;
      return {
        start: () => events.open(),
        text: (text, logprobs) => events.chat(chatChoice.text(text, logprobs)),
        end: (finishReason) => (chatChoice.end ? events.chat(chatChoice.end(finishReason)) : undefined),
        finish: (finishReason) => {
          const last = events.chat(chatChoice.finish(finishReason));
          events.finishReason = finishReason;
          return [...last, ...events.closeItem()];
        },
      };
    },
    // Always sent: response.completed carries the usage.
    usage: (usage) => {
      if (!stream) return undefined;
      const response = { ...finished(stream.response, stream.finishReason, usage), output: stream.output };
      return stream.event(response.status === "incomplete" ? "response.incomplete" : "response.completed", {
        response,
      });
    },
    encode: (event) =>
      encoder.encode(`event: ${(event as ResponseStreamEvent).type}\ndata: ${JSON.stringify(event)}\n\n`),
    done: false,
  };
}

/** The event sequence of one streamed response (Responses answers have one choice). */
class ResponseEventStream {
  private sequence = 0;
  readonly output: ResponseOutputItem[] = [];
  private current: { item: ResponseOutputItem; index: number; text: string; logprobs: ResponseLogprob[] } | undefined;
  /** Tool calls by their chat index, to their output item. */
  private readonly calls = new Map<number, ResponseFunctionCallItem>();
  finishReason: string | null = null;

  constructor(
    readonly response: ResponseObject,
    private readonly withLogprobs: boolean,
  ) {}

  event(type: string, fields: Record<string, unknown>): ResponseStreamEvent {
    return { type, sequence_number: this.sequence++, ...fields };
  }

  open(): ResponseStreamEvent[] {
    return [
      this.event("response.created", { response: this.response }),
      this.event("response.in_progress", { response: this.response }),
    ];
  }

  /** Events for what the chat format produced (none, one chunk or several). */
  chat(chunks: Chunks): ResponseStreamEvent[] {
    const events: ResponseStreamEvent[] = [];
    for (const chunk of (Array.isArray(chunks) ? chunks : chunks === undefined ? [] : [chunks]) as ChatAnswerLike[]) {
      const choice = chunk.choices[0];
      if (!choice?.delta) continue;
      const { delta } = choice;
      if (delta.reasoning_content) events.push(...this.reasoning(delta.reasoning_content));
      if (delta.content) events.push(...this.text(delta.content, responseLogprobs(choice.logprobs) ?? []));
      for (const call of delta.tool_calls ?? []) events.push(...this.toolCall(call));
    }
    return events;
  }

  private reasoning(text: string): ResponseStreamEvent[] {
    const events = this.current?.item.type === "reasoning" ? [] : this.openItem(reasoningItem("", "in_progress"));
    const current = this.current!;
    current.text += text;
    events.push(
      this.event("response.reasoning_text.delta", {
        item_id: current.item.id,
        output_index: current.index,
        content_index: 0,
        delta: text,
      }),
    );
    return events;
  }

  private text(text: string, logprobs: ResponseLogprob[]): ResponseStreamEvent[] {
    const events: ResponseStreamEvent[] = [];
    if (this.current?.item.type !== "message") {
      events.push(...this.openItem(messageItem("", undefined, "in_progress")));
      const current = this.current!;
      events.push(
        this.event("response.content_part.added", {
          item_id: current.item.id,
          output_index: current.index,
          content_index: 0,
          part: { type: "output_text", text: "", annotations: [] },
        }),
      );
    }
    const current = this.current!;
    current.text += text;
    current.logprobs.push(...logprobs);
    events.push(
      this.event("response.output_text.delta", {
        item_id: current.item.id,
        output_index: current.index,
        content_index: 0,
        delta: text,
        logprobs,
      }),
    );
    return events;
  }

  private toolCall(call: ChatToolCall): ResponseStreamEvent[] {
    const events: ResponseStreamEvent[] = [];
    const key = call.index ?? 0;
    let item = this.calls.get(key);
    if (!item) {
      item = functionCallItem(call.id ?? newId("call"), call.function?.name ?? "", "", "in_progress");
      this.calls.set(key, item);
      events.push(...this.openItem(item));
    }
    const current = this.current!;
    const fragment = call.function?.arguments ?? "";
    if (fragment) {
      current.text += fragment;
      events.push(
        this.event("response.function_call_arguments.delta", {
          item_id: item.id,
          output_index: current.index,
          delta: fragment,
        }),
      );
    }
    return events;
  }

  private openItem(item: ResponseOutputItem): ResponseStreamEvent[] {
    const events = this.closeItem();
    this.current = { item, index: this.output.length, text: "", logprobs: [] };
    events.push(this.event("response.output_item.added", { output_index: this.current.index, item }));
    return events;
  }

  /** The done events of the open item, which then joins the output. */
  closeItem(): ResponseStreamEvent[] {
    const current = this.current;
    if (!current) return [];
    this.current = undefined;
    const { index, text } = current;
    const events: ResponseStreamEvent[] = [];
    let done: ResponseOutputItem;
    if (current.item.type === "message") {
      const logprobs = this.withLogprobs ? current.logprobs : undefined;
      done = messageItem(text, logprobs, "completed", current.item.id);
      const part = done.content[0]!;
      events.push(
        this.event("response.output_text.done", {
          item_id: done.id,
          output_index: index,
          content_index: 0,
          text,
          logprobs: current.logprobs,
        }),
      );
      events.push(
        this.event("response.content_part.done", { item_id: done.id, output_index: index, content_index: 0, part }),
      );
    } else if (current.item.type === "function_call") {
      done = { ...current.item, arguments: text, status: "completed" };
      events.push(
        this.event("response.function_call_arguments.done", {
          item_id: done.id,
          output_index: index,
          name: done.name,
          arguments: text,
        }),
      );
    } else {
      done = { ...reasoningItem(text, "completed"), id: current.item.id };
      events.push(
        this.event("response.reasoning_text.done", { item_id: done.id, output_index: index, content_index: 0, text }),
      );
    }
    this.output.push(done);
    events.push(this.event("response.output_item.done", { output_index: index, item: done }));
    return events;
  }
}

function messageItem(
  text: string,
  logprobs: ResponseLogprob[] | undefined,
  status: ResponseOutputMessage["status"],
  id = newId("msg"),
): ResponseOutputMessage {
  return {
    type: "message",
    id,
    status,
    role: "assistant",
    content:
      status === "in_progress"
        ? []
        : [{ type: "output_text", text, annotations: [], ...(logprobs ? { logprobs } : {}) }],
  };
}

function functionCallItem(
  callId: string,
  name: string,
  args: string,
  status: ResponseFunctionCallItem["status"],
): ResponseFunctionCallItem {
  return { type: "function_call", id: newId("fc"), call_id: callId, name, arguments: args, status };
}

function reasoningItem(text: string, status: NonNullable<ResponseReasoningItem["status"]>): ResponseReasoningItem {
  return {
    type: "reasoning",
    id: newId("rs"),
    summary: [],
    content: status === "in_progress" ? [] : [{ type: "reasoning_text", text }],
    status,
  };
}

function responseLogprobs(logprobs: ChatChoiceLogprobs | null): ResponseLogprob[] | undefined {
  if (!logprobs?.content) return undefined;
  return logprobs.content.map((t) => ({
    token: t.token,
    logprob: t.logprob,
    bytes: t.bytes ?? [],
    top_logprobs: t.top_logprobs.map((top) => ({ token: top.token, logprob: top.logprob, bytes: top.bytes ?? [] })),
  }));
}

function responseUsage(usage: Usage): ResponseUsage {
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.total_tokens,
  };
}
