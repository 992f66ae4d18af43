import type { Token } from "node-llama-cpp";
import { ApiError, EmbeddingRequest, type EmbeddingList } from "@slm/config";
import { embed, promptTokens } from "../engine/index.ts";
import type { Serving } from "../serving.ts";
import type { InferenceContext } from "./context.ts";
import { readRequest } from "./read-request.ts";
import { selectModel } from "./select-model.ts";
import { endedRequestError, requestSignal, type RequestSignalOptions } from "./request-signal.ts";

/**
 * POST /v1/embeddings, when the engine has an embedding context (EMBEDDINGS, see README): unit-length vectors as
 * floats or OpenAI's base64 (little-endian float32).
 */
export async function embeddings(
  c: InferenceContext,
  served: Serving,
  deps: { requestTimeoutMs: number; shutdown: AbortSignal },
): Promise<Response> {
  const request = await readRequest(c, EmbeddingRequest);
  const serving = selectModel(served, request.model);
  const embedder = serving.engine.embedder;
  if (!embedder) {
    throw new ApiError(
      400,
      "invalid_request_error",
      "embeddings_not_supported",
      "This model does not serve embeddings.",
      "model",
    );
  }
  if (request.dimensions != null && request.dimensions !== embedder.dimensions) {
    throw new ApiError(
      400,
      "invalid_request_error",
      "invalid_dimensions",
      `dimensions: this model's embeddings have ${embedder.dimensions} dimensions and cannot be shortened.`,
      "dimensions",
    );
  }
  const inputs = request.inputs.map((input) =>
    typeof input === "string" ? input : (promptTokens(serving.engine, input) as Token[]),
  );
  const options: RequestSignalOptions = {
    client: c.req.raw.signal,
    timeoutMs: deps.requestTimeoutMs,
    shutdown: deps.shutdown,
  };
  const ended = requestSignal(options);
  let result: Awaited<ReturnType<typeof embed>>;
  try {
    result = await embed(embedder, inputs, ended.signal);
  } catch (error) {
    throw (ended.reason && endedRequestError(ended.reason, deps.requestTimeoutMs)) ?? error;
  } finally {
    ended.dispose();
  }
  const base64 = request.encoding_format === "base64";
  const list: EmbeddingList = {
    object: "list",
    data: result.vectors.map((vector, index) => ({
      object: "embedding",
      index,
      embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector,
    })),
    model: serving.modelName,
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
  return c.json(list);
}
