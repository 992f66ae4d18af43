/** One streamed chat completion (OpenAI's /v1/chat/completions with SSE), timed and with its usage. */

import { sseData } from "../inference/measure-http.ts";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatTurn {
  /** Request sent -> first non-empty `delta.content`. */
  firstContentMs: number;
  /** Request sent -> end of the stream. */
  totalMs: number;
  reply: string;
  promptTokens: number;
  completionTokens: number;
  /** `usage.prompt_tokens_details.cached_tokens` (both servers), else llama-server's `timings.cache_n`. */
  cachedTokens: number;
  finishReason: string | undefined;
}

export interface ChatStreamRequest {
  url: string;
  messages: readonly ChatMessage[];
  maxTokens: number;
  model?: string | undefined;
  headers?: Record<string, string> | undefined;
  /** More body fields (e.g. llama-server's `cache_prompt`). */
  extra?: Record<string, unknown> | undefined;
  /** Gives up after this long (bounded runs). */
  timeoutMs?: number;
  /** Every parsed chunk (e.g. llama-server's `timings`). */
  onChunk?: (chunk: unknown) => void;
}

interface StreamChunk {
  choices?: Array<{ delta?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
  } | null;
  timings?: { cache_n?: number };
  error?: unknown;
}

export async function streamChat(request: ChatStreamRequest): Promise<ChatTurn> {
  const sent = performance.now();
  const response = await fetch(`${request.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...request.headers },
    body: JSON.stringify({
      ...(request.model ? { model: request.model } : {}),
      messages: request.messages,
      max_tokens: request.maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      ...request.extra,
    }),
    signal: AbortSignal.timeout(request.timeoutMs ?? 600_000),
  });
  if (response.status !== 200 || !response.body) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  let first = 0;
  const parts: string[] = [];
  let promptTokens = Number.NaN;
  let completionTokens = Number.NaN;
  let cachedTokens: number | undefined;
  let cacheN: number | undefined;
  let finishReason: string | undefined;
  for await (const data of sseData(response.body)) {
    const chunk = JSON.parse(data) as StreamChunk;
    request.onChunk?.(chunk);
    if (chunk.error) throw new Error(`stream error: ${JSON.stringify(chunk.error)}`);
    if (chunk.usage) {
      promptTokens = chunk.usage.prompt_tokens ?? promptTokens;
      completionTokens = chunk.usage.completion_tokens ?? completionTokens;
      cachedTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? cachedTokens;
    }
    if (chunk.timings?.cache_n !== undefined) cacheN = chunk.timings.cache_n;
    const choice = chunk.choices?.[0];
    if (choice?.finish_reason) finishReason = choice.finish_reason;
    const text = choice?.delta?.content;
    if (text) {
      if (parts.length === 0) first = performance.now();
      parts.push(text);
    }
  }
  return {
    firstContentMs: first === 0 ? Number.NaN : first - sent,
    totalMs: performance.now() - sent,
    reply: parts.join(""),
    promptTokens,
    completionTokens,
    cachedTokens: cachedTokens ?? cacheN ?? 0,
    finishReason,
  };
}
