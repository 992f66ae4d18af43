import { LlamaCompletion, type ChatHistoryItem, type LlamaContextSequence, type LlamaText, type Token } from "node-llama-cpp";
import { ApiError, messageText, type ChatCompletionRequest, type FinishReason, type Usage } from "@slm/config";
import type { Engine } from "./load-engine.ts";
import type { ChosenTemplate } from "./chat-template.ts";

/** A chat request rendered and tokenized, checked against the context, ready to run on a sequence. */
export interface PreparedChat {
  prompt: Token[];
  maxTokens: number;
  stops: Array<LlamaText | string>;
  temperature: number;
  topP: number;
  seed: number | undefined;
}

export interface RunChatOptions {
  signal?: AbortSignal;
  /** Each piece of text as soon as it is final (text that may start a stop sequence is held back until ruled out). */
  onText?: (text: string) => void;
}

export interface ChatResult {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
  aborted: boolean;
}

/**
 * Renders the messages with the chosen template and tokenizes them. Synchronous and cheap, so a request that cannot
 * fit is refused (400 with the token counts) before any slot is taken or any byte is streamed.
 */
export type ChatInput = Pick<ChatCompletionRequest, "messages" | "maxTokens" | "temperature" | "top_p" | "seed" | "stop">;

export function prepareChat(engine: Engine, template: ChosenTemplate, request: ChatInput): PreparedChat {
  const history: ChatHistoryItem[] = request.messages.map((m): ChatHistoryItem => {
    const text = messageText(m);
    if (m.role === "assistant") return { type: "model", response: [text] };
    if (m.role === "user") return { type: "user", text };
    return { type: "system", text };
  });
  history.push({ type: "model", response: [] });
  const state = template.wrapper.generateContextState({ chatHistory: history });
  const prompt = state.contextText.tokenize(engine.model.tokenizer);
  const room = engine.contextSize - prompt.length;
  if (room < 1) {
    throw new ApiError(
      400,
      "invalid_request_error",
      "context_length_exceeded",
      `This model's maximum context length is ${engine.contextSize} tokens. However, your messages resulted in ` +
        `${prompt.length} tokens. Please reduce the length of the messages.`,
      "messages",
    );
  }
  return {
    prompt,
    maxTokens: Math.min(request.maxTokens ?? room, room),
    stops: [...state.stopGenerationTriggers, ...template.extraStops, ...toList(request.stop)],
    temperature: request.temperature ?? 1,
    topP: request.top_p ?? 1,
    seed: request.seed ?? undefined,
  };
}

/** Generates on one sequence the caller holds exclusively (borrowed from the engine's pool). */
export async function runChat(
  sequence: LlamaContextSequence,
  chat: PreparedChat,
  options: RunChatOptions = {},
): Promise<ChatResult> {
  const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
  let completionTokens = 0;
  try {
    const { response, metadata } = await completion.generateCompletionWithMeta(chat.prompt, {
      maxTokens: chat.maxTokens,
      temperature: chat.temperature,
      topP: chat.topP,
      ...(chat.seed !== undefined ? { seed: chat.seed } : {}),
      customStopTriggers: chat.stops,
      ...(options.signal ? { signal: options.signal, stopOnAbortSignal: true } : {}),
      onToken: (tokens) => {
        completionTokens += tokens.length;
      },
      ...(options.onText ? { onTextChunk: options.onText } : {}),
    });
    return {
      text: response,
      finishReason: metadata.stopReason === "maxTokens" ? "length" : "stop",
      aborted: metadata.stopReason === "abort",
      usage: {
        prompt_tokens: chat.prompt.length,
        completion_tokens: completionTokens,
        total_tokens: chat.prompt.length + completionTokens,
      },
    };
  } finally {
    completion.dispose({ disposeSequence: false });
  }
}

function toList(stop: string | string[] | null | undefined): string[] {
  if (stop == null) return [];
  return (typeof stop === "string" ? [stop] : stop).filter((s) => s.length > 0);
}
