import type { Context } from "hono";
import * as v from "valibot";
import { randomUUID } from "node:crypto";
import {
  ApiError,
  ChatCompletionRequest,
  expectationMessage,
  invalidRequest,
  sseData,
  sseError,
  SSE_DONE,
  SSE_HEADERS,
  type ChatCompletion,
  type ChatCompletionChunk,
  errorEnvelope,
} from "@slm/config";
import { prepareChat, runChat, type ChatResult } from "../engine/generate-chat.ts";
import type { Serving } from "../serving.ts";
import type { Logger } from "../logger.ts";
import { toApiError } from "./errors.ts";

export interface ChatCompletionsDeps {
  serving: Serving;
  log: Logger;
  retryAfterSeconds: () => number;
}

/** POST /v1/chat/completions: JSON, or SSE chunks in OpenAI's format ending with `data: [DONE]`. */
export async function chatCompletions(c: Context, deps: ChatCompletionsDeps): Promise<Response> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, "invalid_request_error", "invalid_json", "The request body is not valid JSON.");
  }
  const parsed = v.safeParse(ChatCompletionRequest, body, { message: expectationMessage });
  if (!parsed.success) throw invalidRequest(parsed.issues);
  const request = parsed.output;
  const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const model = deps.serving.modelName;

  const { engine, template } = deps.serving;
  const prepared = prepareChat(engine, template, request);

  if (!request.stream) {
    const result = await engine.pool.with(c.req.raw.signal, (sequence) =>
      runChat(sequence, prepared, { signal: c.req.raw.signal }),
    );
    const completion: ChatCompletion = {
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: result.text, refusal: null },
          finish_reason: result.finishReason,
          logprobs: null,
        },
      ],
      usage: result.usage,
    };
    return c.json(completion);
  }

  const includeUsage = request.stream_options?.include_usage === true;
  const chunk = (delta: ChatCompletionChunk["choices"][0]["delta"], finish: ChatResult["finishReason"] | null) => {
    const payload: ChatCompletionChunk = {
      id,
      object: "chat.completion.chunk",
      created,
      model,
      system_fingerprint: null,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...(includeUsage ? { usage: null } : {}),
    };
    return sseData(payload);
  };
  // Take the slot before answering, so a full queue is an honest 429 rather than an error inside a 200 stream.
  const sequence = await engine.pool.acquire(c.req.raw.signal);
  const abort = new AbortController();
  c.req.raw.signal.addEventListener("abort", () => abort.abort(), { once: true });

  const stream = new ReadableStream<Uint8Array>({
    start: (controller) => {
      controller.enqueue(chunk({ role: "assistant", content: "" }, null));
      runChat(sequence, prepared, {
        signal: abort.signal,
        onText: (text) => {
          if (!abort.signal.aborted) controller.enqueue(chunk({ content: text }, null));
        },
      })
        .then((result) => {
          if (result.aborted || abort.signal.aborted) return;
          controller.enqueue(chunk({}, result.finishReason));
          if (includeUsage) {
            controller.enqueue(
              sseData({ id, object: "chat.completion.chunk", created, model, system_fingerprint: null, choices: [], usage: result.usage }),
            );
          }
          controller.enqueue(SSE_DONE);
          controller.close();
        })
        .catch((error: unknown) => {
          if (abort.signal.aborted) return;
          const api = toApiError(error, deps.retryAfterSeconds);
          if (!api) deps.log.error({ err: error, requestId: c.get("requestId") }, "generation failed mid-stream");
          controller.enqueue(
            sseError(api?.toJSON() ?? errorEnvelope("server_error", "Generation failed.", { code: "internal_error" })),
          );
          controller.close();
        })
        .finally(() => engine.pool.release(sequence));
    },
    cancel: () => abort.abort(),
  });
  return new Response(stream, { status: 200, headers: { ...SSE_HEADERS, "x-request-id": c.get("requestId") } });
}
