import { InferenceClient } from "@huggingface/inference";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLIENT_MODELS,
  type ClientStack,
  guardNetwork,
  outbound,
  recordingFetch,
  startClientStack,
} from "./client-stack.ts";

/**
 * Hugging Face's JS client (`@huggingface/inference` v4) against the gateway over real HTTP, as against a TGI or
 * llama-server endpoint: `endpointUrl` is the gateway's origin, the client adds `/v1/chat/completions`, and the model
 * may be left out.
 */
guardNetwork();

describe.each(CLIENT_MODELS)("@huggingface/inference on the %s model", (kind) => {
  let s: ClientStack;
  let hf: InferenceClient;
  const wire = recordingFetch();
  const lastExchange = () => wire.exchanges.at(-1)!;
  const messages = [{ role: "user", content: "Tell me a story" }];

  beforeAll(async () => {
    s = await startClientStack(kind);
    hf = new InferenceClient(s.apiKey, { endpointUrl: s.origin, fetch: wire.fetch, retry_on_error: false });
  });
  afterAll(async () => {
    await s?.stop();
    expect(outbound).toEqual([]);
  });

  it("chatCompletion with the model named: the answer, its finish reason and usage", async () => {
    const out = await hf.chatCompletion({ model: s.model, messages, max_tokens: 8, temperature: 0 });
    expect(out.model).toBe(s.model);
    expect(out.choices[0]!.message.content?.length).toBeGreaterThan(0);
    expect(out.choices[0]!.finish_reason).toBe("length");
    expect(out.usage).toMatchObject({ completion_tokens: 8 });
    expect(out.usage.total_tokens).toBe(out.usage.prompt_tokens + 8);
    expect(lastExchange().url).toBe(`${s.origin}/v1/chat/completions`);
  });

  it("chatCompletion with no model: the gateway serves its one model", async () => {
    const out = await hf.chatCompletion({ messages, max_tokens: 8, temperature: 0 });
    expect(out.model).toBe(s.model);
    expect(out.choices[0]!.message.content?.length).toBeGreaterThan(0);
    expect(out.usage.completion_tokens).toBe(8);
  });

  it("chatCompletionStream (with and without a model): deltas that make the JSON answer", async () => {
    const json = await hf.chatCompletion({ messages, max_tokens: 8, temperature: 0 });
    for (const model of [s.model, undefined]) {
      let text = "";
      let finish: string | undefined;
      let chunks = 0;
      for await (const chunk of hf.chatCompletionStream({
        ...(model ? { model } : {}),
        messages,
        max_tokens: 8,
        temperature: 0,
      })) {
        chunks++;
        expect(chunk.model).toBe(s.model);
        text += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(chunks).toBeGreaterThan(2);
      expect(finish).toBe("length");
      expect(text).toBe(json.choices[0]!.message.content);
      expect(lastExchange().body).toMatchObject({ stream: true });
    }
  });
});
