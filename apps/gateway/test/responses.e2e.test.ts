import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, type ModelMessage } from "ai";
import { Redis } from "ioredis";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@slm/testkit";
import { startGateway, stopAll } from "./support/gateway-process.ts";

/**
 * Stored responses end to end, as real processes over real HTTP (fake Hub -> inference -> gateway): the official
 * `openai` client continues a conversation with previous_response_id and item_reference, retrieves, lists and deletes
 * a stored response, and a second key never sees the first key's; a streamed turn is stored as well. Then the Vercel
 * AI SDK's default OpenAI provider (Responses API, store on by default) holds a three-turn conversation, sending its
 * earlier answers back as item_reference items. The stack's gateway keeps its responses in the Redis on 127.0.0.1:6379
 * (a prefix of its own, deleted afterwards), where a second gateway process finds them.
 */

let stack: Stack;
let client: OpenAI;
let other: OpenAI;
let dir: string;
const OTHER_KEY = `sk-other-${randomBytes(16).toString("hex")}`;
const REDIS_URL = "redis://127.0.0.1:6379";
const PREFIX = `slm-test-responses-e2e-${randomBytes(6).toString("hex")}`;
const MODEL = "tiny-chat";
const turn = { model: MODEL, max_output_tokens: 6, temperature: 0 } as const;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slm-responses-e2e-"));
  const keysFile = join(dir, "keys.json");
  await writeFile(keysFile, JSON.stringify({ keys: [{ id: "other-app", key: OTHER_KEY }] }));
  stack = await startStack({
    gatewayEnv: { GATEWAY_KEYS_FILE: keysFile, REDIS_URL, GATEWAY_REDIS_PREFIX: PREFIX },
  });
  client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });
  other = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: OTHER_KEY, maxRetries: 0 });
}, 120_000);
afterAll(async () => {
  await stopAll();
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

async function status(promise: Promise<unknown>): Promise<{ status: number | undefined; error: unknown }> {
  try {
    await promise;
    return { status: 200, error: undefined };
  } catch (err) {
    return { status: (err as { status?: number }).status, error: (err as { error?: unknown }).error };
  }
}

describe("stored responses through the gateway", () => {
  it("continues, refers to, retrieves, lists and deletes stored responses, for their owner only", async () => {
    const first = await client.responses.create({ ...turn, input: "Tell me a story" });
    expect(first.id).toMatch(/^resp_/);
    expect(first).toMatchObject({ store: true, previous_response_id: null });
    const firstMessage = first.output.find((item) => item.type === "message");
    expect(firstMessage?.id).toMatch(/^msg_/);

    // The second turn continues the first by its id: the prompt holds the first turn (more input tokens).
    const second = await client.responses.create({ ...turn, input: "And then?", previous_response_id: first.id });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);

    // The same conversation sent with the first answer as an item_reference gives the same prompt.
    const referred = await client.responses.create({
      ...turn,
      input: [
        { role: "user", content: "Tell me a story" },
        { type: "item_reference", id: firstMessage!.id },
        { role: "user", content: "And then?" },
      ],
    });
    expect(referred.usage!.input_tokens).toBe(second.usage!.input_tokens);
    expect(referred.output_text).toBe(second.output_text);

    const retrieved = await client.responses.retrieve(second.id);
    expect(retrieved).toMatchObject({ id: second.id, previous_response_id: first.id, store: true });
    expect(retrieved.output).toEqual(second.output);

    const items = await client.responses.inputItems.list(referred.id, { order: "asc" });
    expect(items.data.map((item) => item.type)).toEqual(["message", "message", "message"]);
    expect(items.data[1]).toMatchObject({ id: firstMessage!.id, role: "assistant" });
    expect(items.data.every((item) => typeof item.id === "string" && item.id.length > 0)).toBe(true);
    const page = await client.responses.inputItems.list(referred.id, { limit: 2 });
    expect(page.data.map((item) => item.id)).toEqual([items.data[2]!.id, items.data[1]!.id]);
    expect(page.has_more).toBe(true);

    // Another key: as if nothing existed.
    for (const attempt of [
      () => other.responses.retrieve(first.id),
      () => other.responses.inputItems.list(first.id),
      () => other.responses.delete(first.id),
      () => other.responses.create({ ...turn, input: "Go on", previous_response_id: first.id }),
      () => other.responses.create({ ...turn, input: [{ type: "item_reference", id: firstMessage!.id }] }),
    ])
      expect((await status(attempt())).status).toBe(404);
    const refused = await status(other.responses.create({ ...turn, input: "Go on", previous_response_id: first.id }));
    expect(refused.error).toMatchObject({
      type: "invalid_request_error",
      param: "previous_response_id",
      code: "previous_response_not_found",
    });

    await client.responses.delete(second.id);
    expect((await status(client.responses.retrieve(second.id))).status).toBe(404);
    expect((await status(client.responses.delete(second.id))).status).toBe(404);
    expect(
      (await status(client.responses.create({ ...turn, input: "More", previous_response_id: second.id }))).status,
    ).toBe(404);
    // The first response is still there.
    expect((await client.responses.retrieve(first.id)).id).toBe(first.id);
  });

  it("stores a streamed response as its response.completed passes, and continues it", async () => {
    const stream = await client.responses.create({ ...turn, input: "Tell me a story", stream: true });
    let done: OpenAI.Responses.Response | undefined;
    let created: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      if (event.type === "response.created") created = event.response;
      if (event.type === "response.completed" || event.type === "response.incomplete") done = event.response;
    }
    expect(created).toMatchObject({ store: true });
    expect(done).toMatchObject({ store: true });
    const stored = await client.responses.retrieve(done!.id);
    expect(stored.output).toEqual(done!.output);
    const next = await client.responses.create({ ...turn, input: "And then?", previous_response_id: done!.id });
    expect(next.previous_response_id).toBe(done!.id);
  });

  it("a second gateway on the same Redis continues, reads and deletes the first one's responses", async () => {
    const second = await startGateway({
      INFERENCE_URL: stack.inferenceUrl,
      INFERENCE_API_KEY: stack.inferenceKey,
      GATEWAY_API_KEYS: stack.apiKey,
      REDIS_URL,
      GATEWAY_REDIS_PREFIX: PREFIX,
    });
    expect(second.logs().find((l) => l["msg"] === "listening")).toMatchObject({ responseStore: "redis" });
    const there = new OpenAI({ baseURL: `${second.url}/v1`, apiKey: stack.apiKey, maxRetries: 0 });
    const first = await client.responses.create({ ...turn, input: "Tell me a story" });
    const next = await there.responses.create({ ...turn, input: "And then?", previous_response_id: first.id });
    expect(next.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);
    expect((await client.responses.retrieve(next.id)).previous_response_id).toBe(first.id);
    await there.responses.delete(first.id);
    expect((await status(client.responses.retrieve(first.id))).status).toBe(404);
    // Nothing of what was stored reached a log line of either gateway.
    const text = first.output_text;
    expect(text.length).toBeGreaterThan(3);
    for (const lines of [second.lines, stack.gateway.lines]) expect(lines.join("\n")).not.toContain(text);
  });

  it("holds a three-turn conversation with the AI SDK's default OpenAI provider (item_reference)", async () => {
    const sent: unknown[] = [];
    // The default provider (`provider(model)`: the Responses API, store on), watched to see what it sends.
    const provider = createOpenAI({
      baseURL: `${stack.gatewayUrl}/v1`,
      apiKey: stack.apiKey,
      fetch: async (url, init) => {
        if (typeof init?.body === "string") sent.push(JSON.parse(init.body));
        return fetch(url, init);
      },
    });
    const messages: ModelMessage[] = [];
    const inputTokens: number[] = [];
    for (const question of ["Tell me a story", "And then?", "How does it end?"]) {
      messages.push({ role: "user", content: question });
      const result = await generateText({
        model: provider(MODEL),
        messages,
        maxOutputTokens: 6,
        temperature: 0,
        maxRetries: 0,
      });
      expect(result.text.length).toBeGreaterThan(0);
      inputTokens.push(result.usage.inputTokens ?? 0);
      messages.push(...result.response.messages);
    }
    // Turns two and three sent the earlier answers as references, and the prompt grew with them.
    const inputs = sent.map((body) => (body as { input: Array<{ type?: string }> }).input);
    expect(inputs[1]!.filter((item) => item.type === "item_reference")).toHaveLength(1);
    expect(inputs[2]!.filter((item) => item.type === "item_reference")).toHaveLength(2);
    expect(inputTokens[1]).toBeGreaterThan(inputTokens[0]!);
    expect(inputTokens[2]).toBeGreaterThan(inputTokens[1]!);
  });
});
