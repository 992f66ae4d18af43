import OpenAI from "openai";
import { expect } from "vitest";
import type { StubInference } from "./stub-inference.ts";

/**
 * The smoke test every runtime must pass, through the official client: health, the model list, a JSON and a streamed
 * chat completion (usage metered and hidden from a client that did not ask), auth failure, 429 with the RateLimit
 * fields, request ids, and nothing internal in what comes back. Expects the gateway started with `key` at
 * `requestsPerMinute` and `INFERENCE_API_KEY=internalKey`.
 */
export async function smoke(options: {
  url: string;
  key: string;
  internalKey: string;
  requestsPerMinute: number;
  stub: StubInference;
}) {
  const { url, key, stub } = options;
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });
  let used = 0;

  expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: "ok" });
  expect((await fetch(`${url}/ready`)).status).toBe(200);

  const models = await client.models.list();
  used++;
  expect(models.data.map((m) => m.id)).toContain("stub-model");

  const completion = await client.chat.completions.create({
    model: "stub-model",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 5,
  });
  used++;
  expect(completion.choices[0]?.message.content).toBe("Hello there");

  const stream = await client.chat.completions.create({
    model: "stub-model",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  });
  used++;
  let text = "";
  for await (const part of stream) {
    text += part.choices[0]?.delta?.content ?? "";
    expect(part.usage ?? null).toBeNull(); // not asked for: the gateway's own usage request is invisible
  }
  expect(text).toBe("Hello there");
  const upstream = stub.chats().at(-1)!;
  expect(upstream.headers["authorization"]).toBe(`Bearer ${options.internalKey}`);
  expect(upstream.body?.["stream_options"]).toEqual({ include_usage: true });

  const traced = await fetch(`${url}/v1/models`, {
    headers: { authorization: `Bearer ${key}`, "x-request-id": "smoke.1" },
  });
  used++;
  expect(traced.headers.get("x-request-id")).toBe("smoke.1");
  expect(traced.headers.get("x-content-type-options")).toBe("nosniff");

  const bad = new OpenAI({ baseURL: `${url}/v1`, apiKey: "sk-wrong-0123456789abcdef", maxRetries: 0 });
  await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

  let limited: unknown;
  for (let i = used; i <= options.requestsPerMinute; i++) {
    try {
      await client.models.list();
    } catch (error) {
      limited = error;
      break;
    }
  }
  expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
  const headers = (limited as InstanceType<typeof OpenAI.RateLimitError>).headers;
  expect(headers.get("ratelimit-policy")).toBe(`"requests";q=${options.requestsPerMinute};w=60`);
  expect(headers.get("ratelimit")).toMatch(/^"requests";r=0;t=\d+$/);
  expect(Number(headers.get("retry-after"))).toBeGreaterThan(0);
  const everything = JSON.stringify([models, completion, String(limited)]);
  for (const secret of [options.internalKey, stub.url, "10.9.8.7"]) expect(everything).not.toContain(secret);
}
