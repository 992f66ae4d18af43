import { readFile } from "node:fs/promises";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIDELITY_MODELS } from "./fidelity/cases.ts";
import { fidelityModelPath } from "./fidelity/models.ts";
import { serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * Reasoning models through the official client: Qwen3 thinks by default and stops thinking with
 * `chat_template_kwargs`; a QwQ-style model's thinking comes back as `reasoning_content` (JSON and stream), and its
 * end-of-turn token ends the answer without showing up in it.
 */
type ReasoningMessage = OpenAI.ChatCompletionMessage & { reasoning_content?: string };
type ReasoningDelta = OpenAI.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };

async function serveFidelityModel(id: string): Promise<{ served: ServedModel; client: OpenAI }> {
  const model = FIDELITY_MODELS.find((m) => m.id === id)!;
  const served = await serveTinyModel({
    gguf: await readFile(await fidelityModelPath(model)),
    env: { CONTEXT_SIZE: "4096", PARALLEL: "1" },
  });
  return { served, client: new OpenAI({ baseURL: `${served.url}/v1`, apiKey: "unused", maxRetries: 0 }) };
}

const question = [{ role: "user" as const, content: "Hello! What is the capital of France?" }];

describe("Qwen3: thinking on by default, off with chat_template_kwargs", () => {
  let served: ServedModel;
  let client: OpenAI;
  beforeAll(async () => ({ served, client } = await serveFidelityModel("qwen3")), 120_000);
  afterAll(async () => served?.stop());

  const prompt = async (body: object) => {
    const response = await fetch(`${served.url}/apply-template`, {
      method: "POST",
      body: JSON.stringify({ messages: question, ...body }),
    });
    return ((await response.json()) as { prompt: string }).prompt;
  };

  it("nothing is appended to the generation prompt unless enable_thinking is false", async () => {
    expect(await prompt({})).toMatch(/<\|im_start\|>assistant\n$/);
    expect(await prompt({ chat_template_kwargs: { enable_thinking: false } })).toMatch(
      /<\|im_start\|>assistant\n<think>\n\n<\/think>\n\n$/,
    );
  });

  it("the prompt the client's request becomes is the one /apply-template shows (token counts agree)", async () => {
    const on = await client.chat.completions.create({ model: "m", messages: question, max_tokens: 2, temperature: 0 });
    const off = await client.chat.completions.create({
      model: "m",
      messages: question,
      max_tokens: 2,
      temperature: 0,
      // @ts-expect-error chat_template_kwargs is vLLM's and llama-server's extension of the API
      chat_template_kwargs: { enable_thinking: false },
    });
    // "<think>\n\n</think>\n\n" is 6 more tokens with this vocabulary (no single-token tags).
    expect(off.usage!.prompt_tokens - on.usage!.prompt_tokens).toBeGreaterThan(0);
    const tokenize = async (content: string) =>
      (
        (await (
          await fetch(`${served.url}/tokenize`, {
            method: "POST",
            body: JSON.stringify({ content, add_special: true }),
          })
        ).json()) as { tokens: number[] }
      ).tokens.length;
    expect(on.usage!.prompt_tokens).toBe(await tokenize(await prompt({})));
    expect(off.usage!.prompt_tokens).toBe(
      await tokenize(await prompt({ chat_template_kwargs: { enable_thinking: false } })),
    );
  });

  it("refuses malformed chat_template_kwargs with a 400 naming the field", async () => {
    const response = await fetch(`${served.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ messages: question, chat_template_kwargs: { messages: [] } }),
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain("chat_template_kwargs");
  });
});

describe("a QwQ-style reasoning model (thinking opened by the prompt, single-token tags)", () => {
  let served: ServedModel;
  let client: OpenAI;
  beforeAll(async () => ({ served, client } = await serveFidelityModel("qwq-think-tokens")), 120_000);
  afterAll(async () => served?.stop());

  it("returns the thinking as reasoning_content and the answer as content, in JSON and in the stream", async () => {
    const json = await client.chat.completions.create({
      model: "m",
      messages: question,
      max_tokens: 48,
      temperature: 0,
    });
    const message = json.choices[0]!.message as ReasoningMessage;
    expect(message.reasoning_content?.length).toBeGreaterThan(0);
    expect(message.content?.length).toBeGreaterThan(0);
    expect(message.reasoning_content).not.toContain("</think>");

    const stream = await client.chat.completions.create({
      model: "m",
      messages: question,
      max_tokens: 48,
      temperature: 0,
      stream: true,
    });
    let reasoning = "";
    let content = "";
    let reasoningChunks = 0;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as ReasoningDelta | undefined;
      if (delta?.reasoning_content) reasoningChunks++;
      reasoning += delta?.reasoning_content ?? "";
      content += delta?.content ?? "";
    }
    expect(reasoningChunks).toBeGreaterThan(1);
    expect({ reasoning, content }).toEqual({ reasoning: message.reasoning_content, content: message.content });
  });

  it('reasoning_format "none" keeps the raw text, the prompt\'s open <think> included', async () => {
    const json = await client.chat.completions.create({
      model: "m",
      messages: question,
      max_tokens: 48,
      temperature: 0,
      // @ts-expect-error reasoning_format is llama-server's extension of the API
      reasoning_format: "none",
    });
    const message = json.choices[0]!.message as ReasoningMessage;
    expect(message.reasoning_content).toBeUndefined();
    expect(message.content).toMatch(/^<think>\n[\s\S]*<\/think>/);
  });

  it("its end-of-turn token ends the answer mid-way, counted in usage, never shown", async () => {
    const json = await client.chat.completions.create({
      model: "m",
      messages: question,
      max_tokens: 48,
      temperature: 0,
    });
    expect(json.choices[0]!.finish_reason).toBe("stop");
    expect(json.usage!.completion_tokens).toBeLessThan(48);
    const message = json.choices[0]!.message as ReasoningMessage;
    expect(`${message.reasoning_content}${message.content}`).not.toContain("<|im_end|>");
    // Nothing else could have stopped it: no stop sequences, no grammar, and the limit was not reached.
    expect(await tokenId(served.url, "<|im_end|>")).toBeGreaterThan(255);
  });
});

async function tokenId(url: string, text: string): Promise<number> {
  const response = await fetch(`${url}/tokenize`, { method: "POST", body: JSON.stringify({ content: text }) });
  const { tokens } = (await response.json()) as { tokens: number[] };
  expect(tokens).toHaveLength(1);
  return tokens[0]!;
}
