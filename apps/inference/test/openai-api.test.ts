import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { Ajv } from "ajv";
import { jsonLine } from "@slm/testkit";
import { loadReference, type ReferenceModel } from "./reference-model.ts";
import { metricValue, serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * The OpenAI API of a real inference process (tiny generated llama on a fake Hub), called with the official client.
 * Usage and outputs are checked against the same GGUF run in the test process with node-llama-cpp directly.
 */
const KEY = "internal-key-for-tests-0123456789";
let served: ServedModel;
let client: OpenAI;
let reference: ReferenceModel;

beforeAll(async () => {
  served = await serveTinyModel({
    env: {
      PARALLEL: "2",
      MAX_QUEUE: "2",
      EMBEDDINGS: "on",
      INFERENCE_API_KEY: KEY,
      INFERENCE_MAX_BODY_BYTES: "262144",
    },
  });
  client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: KEY, maxRetries: 0 });
  reference = await loadReference(served.modelPath);
}, 120_000);
afterAll(async () => {
  await reference?.dispose();
  await served?.stop();
});

const PROMPT = "Once upon a time there was a";

describe("text completions", () => {
  it("continues a prompt exactly like llama.cpp alone, with usage equal to the tokenizer's counts", async () => {
    const answer = await client.completions.create({ model: "tiny", prompt: PROMPT, max_tokens: 24, temperature: 0 });
    const expected = await reference.greedy(reference.promptTokens(PROMPT), 24);
    expect(answer.object).toBe("text_completion");
    expect(answer.choices[0]?.text).toBe(expected.text);
    expect(answer.choices[0]?.finish_reason).toBe("length");
    expect(answer.usage).toEqual({
      prompt_tokens: reference.promptTokens(PROMPT).length,
      completion_tokens: 24,
      total_tokens: reference.promptTokens(PROMPT).length + 24,
      prompt_tokens_details: { cached_tokens: expect.any(Number) },
    });
  });

  it("streams the same text chunk by chunk, ending with usage and [DONE]", async () => {
    const json = await client.completions.create({ prompt: PROMPT, max_tokens: 16, temperature: 0, model: "tiny" });
    const stream = await client.completions.create({
      prompt: PROMPT,
      max_tokens: 16,
      temperature: 0,
      model: "tiny",
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.text) pieces.push(chunk.choices[0].text);
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join("")).toBe(json.choices[0]?.text);
    expect(finish).toBe("length");
    // The same prompt again: its slot holds it, so all but the last token are reused.
    expect(usage).toEqual({
      ...json.usage,
      prompt_tokens_details: { cached_tokens: json.usage!.prompt_tokens - 1 },
    });
  });

  it("stops at a stop sequence, never shows it, and counts the tokens generated up to it", async () => {
    const free = await reference.greedy(reference.promptTokens(PROMPT), 40);
    const stop = free.text.slice(12, 15);
    const cut = free.text.indexOf(stop);
    expect(cut).toBeGreaterThan(0);
    const upToStop = await reference.greedy(reference.promptTokens(PROMPT), 40, stop);

    const answer = await client.completions.create({
      model: "tiny",
      prompt: PROMPT,
      max_tokens: 40,
      temperature: 0,
      stop: [stop],
    });
    expect(answer.choices[0]?.text).toBe(free.text.slice(0, cut));
    expect(answer.choices[0]?.finish_reason).toBe("stop");
    expect(answer.usage?.completion_tokens).toBe(upToStop.tokens.length);

    const stream = await client.completions.create({
      model: "tiny",
      prompt: PROMPT,
      max_tokens: 40,
      temperature: 0,
      stop,
      stream: true,
    });
    const pieces: string[] = [];
    for await (const chunk of stream) pieces.push(chunk.choices[0]?.text ?? "");
    expect(pieces.join("")).toBe(free.text.slice(0, cut));
  });

  it("echoes the prompt when asked", async () => {
    const answer = await client.completions.create({
      model: "tiny",
      prompt: PROMPT,
      max_tokens: 4,
      temperature: 0,
      echo: true,
    });
    expect(answer.choices[0]?.text.startsWith(PROMPT)).toBe(true);
  });
});

describe("chat completions", () => {
  it("answers JSON and SSE identically, with finish_reason length at max_tokens", async () => {
    const request = {
      model: "tiny",
      messages: [{ role: "user" as const, content: "Tell me a story" }],
      max_tokens: 12,
      temperature: 0,
    };
    const json = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      pieces.push(chunk.choices[0]?.delta.content ?? "");
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces.join("")).toBe(json.choices[0]?.message.content);
    // The same prompt again: its slot holds it, so all but the last token are reused.
    expect(usage).toEqual({
      ...json.usage,
      prompt_tokens_details: { cached_tokens: json.usage!.prompt_tokens - 1 },
    });
    expect(json.usage?.completion_tokens).toBeLessThanOrEqual(12);
    if (json.choices[0]?.finish_reason === "length") expect(json.usage?.completion_tokens).toBe(12);
  });

  it("gives identical output for an identical seed, and different outputs for different seeds", async () => {
    const ask = (seed: number) =>
      client.completions
        .create({ model: "tiny", prompt: PROMPT, max_tokens: 24, temperature: 1.2, seed })
        .then((r) => r.choices[0]?.text);
    const first = await ask(42);
    expect(await ask(42)).toBe(first);
    const others = await Promise.all([ask(1), ask(2), ask(3)]);
    expect(others.some((text) => text !== first)).toBe(true);
  });

  it("enforces a JSON schema: the output parses and validates", async () => {
    const schema = {
      type: "object",
      properties: {
        answer: { enum: ["yes", "no", "maybe"] },
        confident: { type: "boolean" },
        score: { type: "integer" },
        tags: { type: "array", items: { type: "string", maxLength: 6 }, maxItems: 3 },
      },
      required: ["answer", "confident"],
      additionalProperties: false,
    };
    const answer = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "Answer in JSON" }],
      max_tokens: 200,
      temperature: 0.8,
      seed: 5,
      response_format: { type: "json_schema", json_schema: { name: "verdict", schema, strict: true } },
    });
    const content = answer.choices[0]?.message.content ?? "";
    const validate = new Ajv().compile(schema);
    expect(validate(JSON.parse(content))).toBe(true);
    expect(answer.choices[0]?.finish_reason).toBe("stop");
  });

  it("refuses a schema keyword the grammar cannot enforce, naming it", async () => {
    const error = await client.chat.completions
      .create({
        model: "tiny",
        messages: [{ role: "user", content: "x" }],
        response_format: {
          type: "json_schema",
          json_schema: { name: "x", schema: { type: "string", pattern: "^(?=a)a+$" } },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(
      /pattern: lookahead .* is not supported/,
    );
  });

  it("answers json_object with a JSON object", async () => {
    const answer = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "JSON please" }],
      max_tokens: 100,
      temperature: 0,
      response_format: { type: "json_object" },
    });
    if (answer.choices[0]?.finish_reason === "stop")
      expect(typeof JSON.parse(answer.choices[0].message.content ?? "")).toBe("object");
    else expect(answer.choices[0]?.message.content?.startsWith("{")).toBe(true);
  });
});

describe("sampling parameters", () => {
  const greedyText = () => reference.greedy(reference.promptTokens(PROMPT), 12).then((r) => r.text);
  const complete = (extra: Partial<OpenAI.CompletionCreateParamsNonStreaming>) =>
    client.completions
      .create({ model: "tiny", prompt: PROMPT, max_tokens: 12, ...extra })
      .then((r) => r.choices[0]?.text);

  it("top_k 1 and min_p 1 leave only the most likely token, even at a high temperature", async () => {
    const greedy = await greedyText();
    expect(await complete({ temperature: 1.8, seed: 9, top_k: 1 } as object)).toBe(greedy);
    expect(await complete({ temperature: 1.8, seed: 9, min_p: 1 } as object)).toBe(greedy);
    expect(await complete({ temperature: 1.8, seed: 9 })).not.toBe(greedy);
  });

  it("logit_bias forces a token at +100 and bans one at -100", async () => {
    const forced = reference.model.tokenize("the", false)[0]!;
    const text = await complete({ temperature: 0, logit_bias: { [String(forced)]: 100 } });
    expect(text).toBe(
      reference.model.detokenize(Array(12).fill(forced), false, reference.promptTokens(PROMPT).slice(-8)),
    );

    const greedy = await reference.greedy(reference.promptTokens(PROMPT), 1);
    const banned = await complete({ temperature: 0, max_tokens: 1, logit_bias: { [String(greedy.tokens[0])]: -100 } });
    expect(banned).not.toBe(greedy.text);
  });

  it("presence and frequency penalties change a repetitive greedy output", async () => {
    const plain = await complete({ temperature: 0, max_tokens: 48 });
    const penalised = await complete({ temperature: 0, max_tokens: 48, presence_penalty: 2, frequency_penalty: 2 });
    const repeated = await complete({ temperature: 0, max_tokens: 48, repetition_penalty: 5 } as object);
    expect(penalised).not.toBe(plain);
    expect(repeated).not.toBe(plain);
  });
});

describe("embeddings", () => {
  it("returns one unit vector per input, deterministic, in float or base64", async () => {
    const result = await client.embeddings.create({ model: "tiny", input: ["hello world", "good day"] });
    expect(result.data).toHaveLength(2);
    for (const item of result.data) {
      expect(item.embedding).toHaveLength(64);
      expect(Math.hypot(...item.embedding)).toBeCloseTo(1, 4);
    }
    expect(result.data[0]?.embedding).not.toEqual(result.data[1]?.embedding);
    expect(result.usage.prompt_tokens).toBeGreaterThan(2);
    const again = await client.embeddings.create({ model: "tiny", input: "hello world" });
    expect(again.data[0]?.embedding).toEqual(result.data[0]?.embedding);
    // The openai client asks for base64 by default and decodes it: raw base64 must decode to the same floats.
    const raw = await fetch(`${served.url}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ input: "hello world", encoding_format: "base64" }),
    }).then((r) => r.json() as Promise<{ data: Array<{ embedding: string }> }>);
    const bytes = Buffer.from(raw.data[0]!.embedding, "base64");
    const floats = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    expect(floats).toHaveLength(64);
    for (const [i, x] of floats.entries()) expect(x).toBeCloseTo(result.data[0]!.embedding[i]!, 6);
  });
});

describe("errors", () => {
  const badRequest = async (promise: Promise<unknown>) => {
    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    return error as InstanceType<typeof OpenAI.BadRequestError>;
  };

  it("refuses what it does not implement with a clear 400", async () => {
    const messages = [{ role: "user" as const, content: "x" }];
    expect((await badRequest(client.chat.completions.create({ model: "tiny", messages, n: 3 }))).param).toBe("n");
    const tools = [{ type: "function" as const, function: { name: "f", parameters: {} } }];
    // A named tool_choice must name one of the tools.
    expect(
      (
        await badRequest(
          client.chat.completions.create({
            model: "tiny",
            messages,
            tools,
            tool_choice: { type: "function", function: { name: "g" } },
          }),
        )
      ).param,
    ).toBe("tool_choice");
    expect((await badRequest(client.completions.create({ model: "tiny", prompt: ["a", "b"] }))).param).toBe("prompt");
    expect(
      (await badRequest(client.completions.create({ model: "tiny", prompt: "a", logit_bias: { "999999": 1 } }))).param,
    ).toBe("logit_bias");
  });

  it("refuses a body over INFERENCE_MAX_BODY_BYTES with a 413, before reading it all", async () => {
    const response = await fetch(`${served.url}/v1/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ prompt: "x".repeat(300_000), max_tokens: 1 }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "request_too_large" } });
  });

  it("answers a prompt longer than the context with a 400 giving the token counts", async () => {
    const error = await badRequest(
      client.completions.create({ model: "tiny", prompt: "hello ".repeat(600), max_tokens: 4 }),
    );
    expect(error.code).toBe("context_length_exceeded");
    expect(error.message).toMatch(
      /maximum context length is 512 tokens\. However, your prompt resulted in \d{3,} tokens/,
    );
  });
});

describe("internal auth, request ids and metrics", () => {
  it("requires the bearer key everywhere except /health and /ready", async () => {
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
    expect((await fetch(`${served.url}/ready`)).status).toBe(200);
    for (const headers of [{}, { authorization: "Bearer wrong-key-0000000000000" }] as Array<Record<string, string>>) {
      const response = await fetch(`${served.url}/v1/models`, { headers });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { type: "authentication_error", code: "invalid_api_key" } });
      expect((await fetch(`${served.url}/metrics`, { headers })).status).toBe(401);
      const debug = await fetch(`${served.url}/tokenize`, {
        method: "POST",
        headers,
        body: JSON.stringify({ content: "hi" }),
      });
      expect(debug.status).toBe(401);
    }
    const anonymous = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: "wrong-key-0000000000000", maxRetries: 0 });
    await expect(anonymous.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(["tiny"]);
  });

  it("echoes X-Request-Id and logs it with the generation", async () => {
    const response = await fetch(`${served.url}/v1/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "x-request-id": "req-abc.123" },
      body: JSON.stringify({ prompt: "hi", max_tokens: 3 }),
    });
    expect(response.headers.get("x-request-id")).toBe("req-abc.123");
    await response.text();
    const logged = () =>
      served.service.lines
        .map(jsonLine)
        .filter((j) => j?.requestId === "req-abc.123")
        .map((l) => l?.msg);
    await expect.poll(() => logged().sort()).toEqual(["generation", "request"]);
    expect(served.service.lines.join("\n")).not.toContain(KEY);
    const generated = (
      await fetch(`${served.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })
    ).headers.get("x-request-id");
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("exposes Prometheus metrics for requests, tokens, latency and the pool", async () => {
    const text = await (await fetch(`${served.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    expect(
      metricValue(text, "inference_http_requests_total", 'route="/v1/completions",method="POST",status="200"'),
    ).toBeGreaterThan(5);
    expect(
      metricValue(text, "inference_http_requests_total", 'route="/v1/chat/completions",method="POST",status="400"'),
    ).toBeGreaterThan(0);
    expect(metricValue(text, "inference_completion_tokens_total", 'route="/v1/completions"')).toBeGreaterThan(100);
    expect(metricValue(text, "inference_time_to_first_token_seconds_count", 'route="/v1/completions"')).toBeGreaterThan(
      5,
    );
    expect(metricValue(text, "inference_time_per_output_token_seconds_count")).toBeGreaterThan(100);
    expect(metricValue(text, "inference_busy_slots")).toBe(0);
    expect(metricValue(text, "inference_queue_depth")).toBe(0);
    expect(metricValue(text, "inference_slots")).toBe(2);
  });
});
