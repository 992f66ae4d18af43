import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { Ajv } from "ajv";
import { serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * logprobs, n > 1 and the Responses API on a real inference process (tiny generated llama on a fake Hub), called
 * with the official `openai` client. The logprob values themselves are checked against llama-server in the fidelity
 * goldens (fidelity.test.ts); here: shapes, consistency between JSON and stream, and between routes.
 */
const KEY = "internal-key-for-tests-0123456789";
let served: ServedModel;
let client: OpenAI;

beforeAll(async () => {
  served = await serveTinyModel({ env: { PARALLEL: "3", MAX_QUEUE: "4", INFERENCE_API_KEY: KEY } });
  client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: KEY, maxRetries: 0 });
}, 120_000);
afterAll(async () => {
  await served?.stop();
});

const messages = [{ role: "user" as const, content: "Tell me a story" }];

/** The 400 a request ends with. */
async function badRequest(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.BadRequestError>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  return error as InstanceType<typeof OpenAI.BadRequestError>;
}

describe("logprobs", () => {
  it("chat: one entry per generated token, the greedy token first among its alternatives, the stream equal to the JSON", async () => {
    const request = { model: "tiny", messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 3 };
    const json = await client.chat.completions.create(request);
    const choice = json.choices[0]!;
    const content = choice.logprobs?.content ?? [];
    expect(choice.finish_reason).toBe("length");
    expect(content).toHaveLength(json.usage!.completion_tokens);
    expect(content.map((t) => t.token).join("")).toBe(choice.message.content);
    for (const entry of content) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(entry.bytes).toEqual([...new TextEncoder().encode(entry.token)]);
      expect(entry.top_logprobs).toHaveLength(3);
      // Greedy: the chosen token is the most likely one.
      expect(entry.top_logprobs[0]).toMatchObject({ token: entry.token, logprob: entry.logprob });
      const values = entry.top_logprobs.map((t) => t.logprob);
      expect([...values].sort((a, b) => b - a)).toEqual(values);
      expect(values.reduce((sum, l) => sum + Math.exp(l), 0)).toBeLessThanOrEqual(1 + 1e-6);
    }

    const stream = await client.chat.completions.create({ ...request, stream: true });
    const streamed: OpenAI.ChatCompletionTokenLogprob[] = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    // The same tokens; values equal up to float noise (the second request evaluates a cached prompt in other batches).
    expect(streamed.map((t) => [t.token, t.top_logprobs.map((a) => a.token)])).toEqual(
      content.map((t) => [t.token, t.top_logprobs.map((a) => a.token)]),
    );
    for (const [i, t] of streamed.entries()) expect(Math.abs(t.logprob - content[i]!.logprob)).toBeLessThan(1e-3);

    const plain = await client.chat.completions.create({ model: "tiny", messages, max_tokens: 10, temperature: 0 });
    expect(plain.choices[0]!.logprobs).toBeNull();
    expect(plain.choices[0]!.message.content).toBe(choice.message.content);
  });

  it("completions: the legacy shape, offsets into the text, the same values as chat's for the same tokens", async () => {
    const prompt = "Once upon a time there was a";
    const answer = await client.completions.create({
      model: "tiny",
      prompt,
      max_tokens: 8,
      temperature: 0,
      logprobs: 2,
      echo: true,
    });
    const choice = answer.choices[0]!;
    const logprobs = choice.logprobs!;
    expect(logprobs.tokens).toHaveLength(8);
    expect(logprobs.tokens!.join("")).toBe(choice.text.slice(prompt.length));
    expect(logprobs.text_offset![0]).toBe(prompt.length);
    logprobs.tokens!.forEach((token, i) => {
      expect(choice.text.slice(logprobs.text_offset![i], logprobs.text_offset![i]! + token.length)).toBe(token);
      expect(Object.keys(logprobs.top_logprobs![i]!).length).toBeLessThanOrEqual(2);
      expect(logprobs.top_logprobs![i]![token]).toBe(logprobs.token_logprobs![i]);
    });
    const stream = await client.completions.create({
      model: "tiny",
      prompt,
      max_tokens: 8,
      temperature: 0,
      logprobs: 2,
      stream: true,
    });
    const tokens: string[] = [];
    const values: number[] = [];
    for await (const chunk of stream) {
      tokens.push(...(chunk.choices[0]?.logprobs?.tokens ?? []));
      values.push(...(chunk.choices[0]?.logprobs?.token_logprobs ?? []));
    }
    expect(tokens).toEqual(logprobs.tokens);
    for (const [i, value] of values.entries())
      expect(Math.abs(value - logprobs.token_logprobs![i]!)).toBeLessThan(1e-3);
  });

  it("reports the model's own distribution whatever the sampling, and samples as without logprobs", async () => {
    const prompt = "Once upon a time there was a";
    const greedy = await client.completions.create({
      model: "tiny",
      prompt,
      max_tokens: 1,
      temperature: 0,
      logprobs: 5,
    });
    const sampling = {
      model: "tiny",
      prompt,
      max_tokens: 12,
      temperature: 1.7,
      top_k: 2,
      top_p: 0.5,
      seed: 3,
    } as OpenAI.CompletionCreateParamsNonStreaming;
    const sampled = await client.completions.create({ ...sampling, logprobs: 5 });
    const first = (answer: OpenAI.Completion) => Object.entries(answer.choices[0]!.logprobs!.top_logprobs![0]!);
    // Five alternatives (top_k 2 left two candidates), with the values of the greedy request's first position.
    expect(first(sampled).map(([token]) => token)).toEqual(first(greedy).map(([token]) => token));
    for (const [i, [, logprob]] of first(sampled).entries())
      expect(Math.abs(logprob - first(greedy)[i]![1])).toBeLessThan(1e-3);
    const plain = await client.completions.create(sampling);
    expect(sampled.choices[0]!.text).toBe(plain.choices[0]!.text);
  });

  it("refuses top_logprobs without logprobs and beyond 20", async () => {
    const refused = (body: Record<string, unknown>) =>
      badRequest(client.chat.completions.create({ model: "tiny", messages, ...body } as never));
    expect((await refused({ top_logprobs: 2 })).status).toBe(400);
    expect((await refused({ logprobs: true, top_logprobs: 21 })).param).toBe("top_logprobs");
  });
});

describe("n > 1", () => {
  it("answers n sampled choices, indexed, usage summing their tokens; the stream interleaves them and equals the JSON", async () => {
    const request = { model: "tiny", messages, max_tokens: 12, temperature: 1.5, seed: 7, n: 3 };
    const json = await client.chat.completions.create(request);
    expect(json.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const texts = json.choices.map((c) => c.message.content ?? "");
    expect(new Set(texts).size).toBeGreaterThan(1);
    // Each choice is what a one-choice request with its seed gives.
    const second = await client.chat.completions.create({ ...request, n: 1, seed: 8 });
    expect(second.choices[0]!.message.content).toBe(texts[1]);
    expect(json.usage!.prompt_tokens).toBe(second.usage!.prompt_tokens);

    const stream = await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = ["", "", ""];
    const order: number[] = [];
    const finishes: Array<string | null> = [null, null, null];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        pieces[choice.index] += choice.delta.content ?? "";
        if (choice.delta.content) order.push(choice.index);
        if (choice.finish_reason) finishes[choice.index] = choice.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces).toEqual(texts);
    expect(finishes).toEqual(json.choices.map((c) => c.finish_reason));
    // The same prompt again: a slot holds it, so all but the last token are reused (and shared by the choices).
    expect(usage).toEqual({ ...json.usage, prompt_tokens_details: { cached_tokens: json.usage!.prompt_tokens - 1 } });
    const tokens = json.usage!.completion_tokens;
    expect(tokens).toBeGreaterThan(12);
    // Interleaved: the second choice speaks before the first is done.
    expect(order.indexOf(1)).toBeLessThan(order.lastIndexOf(0));
  });

  it("gives n equal choices when greedy, equal to the one-choice answer, and on completions too", async () => {
    const one = await client.chat.completions.create({ model: "tiny", messages, max_tokens: 10, temperature: 0 });
    const three = await client.chat.completions.create({
      model: "tiny",
      messages,
      max_tokens: 10,
      temperature: 0,
      n: 3,
    });
    expect(three.choices.map((c) => c.message.content)).toEqual(Array(3).fill(one.choices[0]!.message.content));
    expect(three.usage!.completion_tokens).toBe(3 * one.usage!.completion_tokens);
    const completions = await client.completions.create({
      model: "tiny",
      prompt: "Once upon a time",
      max_tokens: 6,
      temperature: 0,
      n: 2,
    });
    expect(completions.choices).toHaveLength(2);
    expect(completions.choices[0]!.text).toBe(completions.choices[1]!.text);
  });

  it("refuses more choices than PARALLEL", async () => {
    expect((await badRequest(client.chat.completions.create({ model: "tiny", messages, n: 4 }))).param).toBe("n");
  });
});

describe("POST /v1/responses", () => {
  it("answers like chat completions on the same conversation, with instructions as the system message", async () => {
    const response = await client.responses.create({
      model: "tiny",
      instructions: "Be brief.",
      input: "Tell me a story",
      max_output_tokens: 10,
      temperature: 0,
    });
    const chat = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "system", content: "Be brief." }, ...messages],
      max_tokens: 10,
      temperature: 0,
    });
    expect(response.object).toBe("response");
    expect(response.output_text).toBe(chat.choices[0]!.message.content);
    expect(response.output[0]).toMatchObject({ type: "message", role: "assistant", status: "completed" });
    expect(response.usage).toMatchObject({
      input_tokens: chat.usage!.prompt_tokens,
      output_tokens: chat.usage!.completion_tokens,
      total_tokens: chat.usage!.total_tokens,
    });
    expect(response.status).toBe(chat.choices[0]!.finish_reason === "length" ? "incomplete" : "completed");
    expect((response as unknown as { store: boolean }).store).toBe(false);
  });

  it("takes message items and streams the Responses event sequence, its text equal to the JSON answer", async () => {
    const input = [
      { role: "user", content: "My name is Ada." },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hello Ada!", annotations: [] }] },
      { role: "user", content: [{ type: "input_text", text: "Tell me a story" }] },
    ] as OpenAI.Responses.ResponseInput;
    const request = { model: "tiny", input, max_output_tokens: 12, temperature: 0 };
    const json = await client.responses.create(request);
    const stream = await client.responses.create({ ...request, stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const types = events.map((e) => e.type);
    const deltas = types.filter((t) => t === "response.output_text.delta").length;
    expect(deltas).toBeGreaterThan(1);
    const last = json.status === "incomplete" ? "response.incomplete" : "response.completed";
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      ...Array(deltas).fill("response.output_text.delta"),
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      last,
    ]);
    const text = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : [])).join("");
    expect(text).toBe(json.output_text);
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.output).toEqual(json.output.map((item) => ({ ...item, id: expect.any(String) })));
    expect(completed.response.usage).toEqual({
      ...json.usage,
      input_tokens_details: { cached_tokens: json.usage!.input_tokens - 1 },
    });
  });

  it("enforces text.format json_schema with the response_format grammar", async () => {
    const schema = {
      type: "object",
      properties: { answer: { enum: ["yes", "no"] }, confident: { type: "boolean" } },
      required: ["answer", "confident"],
      additionalProperties: false,
    };
    const response = await client.responses.create({
      model: "tiny",
      input: "Answer in JSON",
      max_output_tokens: 100,
      temperature: 0.8,
      text: { format: { type: "json_schema", name: "verdict", schema, strict: true } },
    });
    expect(new Ajv().compile(schema)(JSON.parse(response.output_text))).toBe(true);
  });

  it("returns output text logprobs when included", async () => {
    const response = await client.responses.create({
      model: "tiny",
      input: "Tell me a story",
      max_output_tokens: 6,
      temperature: 0,
      include: ["message.output_text.logprobs"],
      top_logprobs: 2,
    });
    const part = (response.output[0] as OpenAI.Responses.ResponseOutputMessage)
      .content[0] as OpenAI.Responses.ResponseOutputText;
    expect(part.logprobs).toHaveLength(6);
    expect(part.logprobs!.map((l) => l.token).join("")).toBe(response.output_text);
  });

  it("is stateless: previous_response_id is a clear 400 in the OpenAI envelope", async () => {
    const error = await badRequest(
      client.responses.create({ model: "tiny", input: "hi", previous_response_id: "resp_123" }),
    );
    expect(error.param).toBe("previous_response_id");
    expect(error.message).toMatch(/stores no responses/);
    await badRequest(client.responses.create({ model: "tiny", input: "hi", tools: [{ type: "web_search" } as never] }));
  });
});
