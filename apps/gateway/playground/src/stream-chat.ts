import type { ChatCompletionChunk, ChatCompletionRequestInput, FinishReason, Usage } from "@slm/config";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { readGatewayError, streamError } from "./gateway-error.ts";

/**
 * POST /v1/chat/completions with `stream: true`, read with fetch and a ReadableStream (EventSource cannot send a POST
 * body or an Authorization header). Aborting `signal` closes the connection; the gateway then aborts its request to
 * inference, which stops the generation.
 */

export type ChatStreamEvent =
  | { type: "text"; text: string }
  /** A tool call's opening delta (index, id, name) or one of its argument fragments (index, arguments). */
  | { type: "tool_call"; index: number; id?: string; name?: string; arguments: string }
  | { type: "finish"; reason: FinishReason }
  | { type: "usage"; usage: Usage };

export type ChatStreamRequest = Omit<ChatCompletionRequestInput, "stream" | "stream_options">;

export interface StreamChatOptions {
  apiKey: string;
  request: ChatStreamRequest;
  /** Origin of the gateway; "" (the default) means this page's own origin. */
  baseUrl?: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/** Yields text and tool-call deltas as they arrive, then the finish reason and usage. Throws a GatewayError on an error answer or event. */
export async function* streamChat(options: StreamChatOptions): AsyncGenerator<ChatStreamEvent, void, undefined> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const response = await doFetch(`${options.baseUrl ?? ""}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ ...options.request, stream: true, stream_options: { include_usage: true } }),
    signal: options.signal ?? null,
  });
  if (!response.ok) throw await readGatewayError(response);
  if (response.body === null) return;

  const reader = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  try {
    for (;;) {
      const { done, value: message } = await reader.read();
      if (done) return;
      if (message.event === "error") throw streamError(message.data);
      if (message.data === "[DONE]") return;
      const chunk = JSON.parse(message.data) as ChatCompletionChunk;
      const choice = chunk.choices[0];
      if (choice?.delta.content) yield { type: "text", text: choice.delta.content };
      for (const call of choice?.delta.tool_calls ?? []) {
        yield {
          type: "tool_call",
          index: call.index,
          ...(call.id !== undefined ? { id: call.id } : {}),
          ...(call.function.name !== undefined ? { name: call.function.name } : {}),
          arguments: call.function.arguments ?? "",
        };
      }
      if (choice?.finish_reason) yield { type: "finish", reason: choice.finish_reason };
      if (chunk.usage) yield { type: "usage", usage: chunk.usage };
    }
  } finally {
    // Also reached when the consumer stops early: the connection is released rather than left open.
    await reader.cancel().catch(() => {});
  }
}
