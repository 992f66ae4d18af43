import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY, testApp, type UpstreamCall } from "../../test/support/test-app.ts";
import type { JsonObject } from "../types.ts";
import { createRedisResponseStore } from "./index.ts";
import { unreachableRedis } from "../../test/support/unreachable-redis.ts";

/**
 * Stored responses through the whole gateway app, inference faked behind the injected fetch: what inference gets
 * (the conversation as plain items, no store, no previous_response_id), what the client gets, the read routes,
 * ownership across keys and anonymous addresses, the limits, and two gateways sharing one Redis.
 */

const OTHER = "sk-test-other-0123456789abcdef";

/** A fake inference /v1/responses: answers "seen N" (N: the input items it got), as JSON or as a stream. */
function inference(call: UpstreamCall): Response {
  const body = JSON.parse(call.body ?? "{}") as JsonObject;
  const items = typeof body["input"] === "string" ? 1 : (body["input"] as unknown[]).length;
  const id = `resp_${randomBytes(16).toString("hex")}`;
  const message = {
    type: "message",
    id: `msg_${randomBytes(16).toString("hex")}`,
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", text: `seen ${items}`, annotations: [] }],
  };
  const response = (status: string, output: unknown[]) => ({
    id,
    object: "response",
    created_at: 1,
    status,
    model: "m",
    output,
    previous_response_id: null,
    store: false,
    usage: { input_tokens: items, output_tokens: 2, total_tokens: items + 2 },
  });
  if (body["stream"] !== true) return Response.json(response("completed", [message]));
  const events = [
    { type: "response.created", sequence_number: 0, response: response("in_progress", []) },
    { type: "response.output_item.added", sequence_number: 1, output_index: 0, item: { ...message, content: [] } },
    { type: "response.output_text.delta", sequence_number: 2, item_id: message.id, delta: `seen ${items}` },
    { type: "response.output_item.done", sequence_number: 3, output_index: 0, item: message },
    { type: "response.incomplete", sequence_number: 4, response: response("incomplete", [message]) },
  ];
  const text = events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
  return new Response(text, { headers: { "content-type": "text/event-stream" } });
}

function gateway(overrides: Parameters<typeof testApp>[0] = {}) {
  const { app, upstream } = testApp({ apiKeys: [KEY, OTHER], ...overrides }, { "POST /v1/responses": inference });
  const call = (method: string, path: string, body?: unknown, key = KEY, headers: Record<string, string> = {}) =>
    app.request(path, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const create = async (body: JsonObject, key = KEY) => {
    const res = await call("POST", "/v1/responses", { model: "m", ...body }, key);
    return { status: res.status, json: (await res.json()) as JsonObject };
  };
  const sent = () => JSON.parse(upstream.last()!.body!) as JsonObject;
  return { app, upstream, call, create, sent };
}

const text = (response: JsonObject) =>
  ((response["output"] as JsonObject[])[0]!["content"] as JsonObject[])[0]!["text"] as string;

describe("stored responses in the gateway", () => {
  it("continues a chain: inference gets the whole conversation as plain items, the client the chain's id", async () => {
    const g = gateway();
    const first = await g.create({ input: "one" });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ store: true, previous_response_id: null });
    const second = await g.create({ input: "two", previous_response_id: first.json["id"] });
    expect(second.json).toMatchObject({ store: true, previous_response_id: first.json["id"] });
    expect(text(second.json)).toBe("seen 3");
    const sent = g.sent();
    expect(sent).not.toHaveProperty("previous_response_id");
    expect(sent).not.toHaveProperty("store");
    const input = sent["input"] as JsonObject[];
    expect(input.map((item) => item["role"])).toEqual(["user", "assistant", "user"]);
    expect(input[1]).toEqual((first.json["output"] as JsonObject[])[0]);
    expect(input[2]).toMatchObject({ type: "message", content: [{ type: "input_text", text: "two" }] });
    const third = await g.create({
      input: [{ role: "user", content: "three" }],
      previous_response_id: second.json["id"],
    });
    expect(text(third.json)).toBe("seen 5");

    // A request that stores and continues nothing is sent as it came.
    const plain = await g.create({ input: "alone", store: false });
    expect(plain.json).toMatchObject({ store: false });
    expect(g.sent()).toEqual({ model: "m", input: "alone", max_output_tokens: 256 });
    expect((await g.call("GET", `/v1/responses/${String(plain.json["id"])}`)).status).toBe(404);
  });

  it("resolves item references (typed or bare ids) to the caller's stored items; an unknown one is a 404 on input", async () => {
    const g = gateway();
    const first = await g.create({ input: "one" });
    const answer = (first.json["output"] as JsonObject[])[0]!;
    const listed = (await (await g.call("GET", `/v1/responses/${String(first.json["id"])}/input_items`)).json()) as {
      data: JsonObject[];
    };
    const question = listed.data[0]!;
    const res = await g.create({
      input: [{ type: "item_reference", id: question["id"] }, { id: answer["id"] }, { role: "user", content: "two" }],
    });
    expect(text(res.json)).toBe("seen 3");
    expect((g.sent()["input"] as JsonObject[]).slice(0, 2)).toEqual([question, answer]);

    const missing = await g.create({ input: [{ type: "item_reference", id: "msg_nope" }] });
    expect(missing).toEqual({
      status: 404,
      json: {
        error: {
          message: expect.stringContaining("Item with id 'msg_nope' not found."),
          type: "invalid_request_error",
          param: "input",
          code: "item_not_found",
        },
      },
    });
    const other = await g.create({ input: [{ type: "item_reference", id: answer["id"] }] }, OTHER);
    expect(other.status).toBe(404);
  });

  it("serves retrieve, input_items (limit, order, after) and delete to the owner only", async () => {
    const g = gateway();
    const first = await g.create({ input: "one" });
    const res = await g.create({
      input: [
        { role: "user", content: "a" },
        { role: "assistant", content: "b" },
        { role: "user", content: "c" },
      ],
      previous_response_id: first.json["id"],
    });
    const id = String(res.json["id"]);
    expect(await (await g.call("GET", `/v1/responses/${id}`)).json()).toEqual(res.json);

    const list = async (query: string) =>
      (await (await g.call("GET", `/v1/responses/${id}/input_items${query}`)).json()) as JsonObject;
    const all = await list("?order=asc");
    const ids = (all["data"] as JsonObject[]).map((item) => item["id"] as string);
    expect(ids).toHaveLength(3); // its own input only, not the chain's
    expect(all).toMatchObject({ object: "list", first_id: ids[0], last_id: ids[2], has_more: false });
    const page = await list("?limit=2");
    expect((page["data"] as JsonObject[]).map((item) => item["id"])).toEqual([ids[2], ids[1]]);
    expect(page).toMatchObject({ has_more: true, first_id: ids[2], last_id: ids[1] });
    const next = await list(`?limit=2&after=${ids[1]}`);
    expect((next["data"] as JsonObject[]).map((item) => item["id"])).toEqual([ids[0]]);
    expect(next["has_more"]).toBe(false);
    for (const [query, param] of [
      ["?limit=0", "limit"],
      ["?limit=101", "limit"],
      ["?order=up", "order"],
      ["?after=msg_unknown", "after"],
    ] as const) {
      const bad = await g.call("GET", `/v1/responses/${id}/input_items${query}`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { param: string } }).error.param).toBe(param);
    }

    for (const [method, path] of [
      ["GET", `/v1/responses/${id}`],
      ["GET", `/v1/responses/${id}/input_items`],
      ["DELETE", `/v1/responses/${id}`],
    ] as const) {
      const res = await g.call(method, path, undefined, OTHER);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        error: {
          message: `Response with id '${id}' not found.`,
          type: "invalid_request_error",
          param: null,
          code: "response_not_found",
        },
      });
    }
    const deleted = await g.call("DELETE", `/v1/responses/${id}`);
    expect(await deleted.json()).toEqual({ id, object: "response", deleted: true });
    expect((await g.call("GET", `/v1/responses/${id}`)).status).toBe(404);
    expect((await g.call("DELETE", `/v1/responses/${id}`)).status).toBe(404);
    // Unauthenticated: the /v1 rules apply.
    expect((await g.app.request(`/v1/responses/${String(first.json["id"])}`)).status).toBe(401);
  });

  it("stores a streamed response as it ends, its events saying store and previous_response_id", async () => {
    const g = gateway();
    const first = await g.create({ input: "one" });
    const res = await g.call("POST", "/v1/responses", {
      model: "m",
      input: "two",
      stream: true,
      previous_response_id: first.json["id"],
    });
    const body = await res.text();
    const events = body
      .split("\n\n")
      .filter((block) => block.includes("data:"))
      .map((block) => JSON.parse(block.slice(block.indexOf("data: ") + 6)) as JsonObject);
    expect(events.map((e) => e["type"])).toEqual([
      "response.created",
      "response.output_item.added",
      "response.output_text.delta",
      "response.output_item.done",
      "response.incomplete",
    ]);
    expect(events[0]!["response"]).toMatchObject({ store: true, previous_response_id: first.json["id"] });
    const done = events[4]!["response"] as JsonObject;
    expect(done).toMatchObject({ store: true, status: "incomplete" });
    const stored = (await (await g.call("GET", `/v1/responses/${String(done["id"])}`)).json()) as JsonObject;
    expect(stored).toEqual(done);
    const next = await g.create({ input: "three", previous_response_id: done["id"] });
    expect(text(next.json)).toBe("seen 5");
  });

  it("refuses a chain beyond its limit, naming it; answers store: false for a response beyond the size limit", async () => {
    const g = gateway({ responses: { maxChain: 2, maxBytes: 1500 } });
    const first = await g.create({ input: "one" });
    const second = await g.create({ input: "two", previous_response_id: first.json["id"] });
    expect(second.status).toBe(200);
    const third = await g.create({ input: "three", previous_response_id: second.json["id"] });
    expect(third).toEqual({
      status: 400,
      json: {
        error: {
          message: expect.stringContaining("at most 2 responses"),
          type: "invalid_request_error",
          param: "previous_response_id",
          code: "conversation_too_long",
        },
      },
    });
    const big = await g.create({ input: "x".repeat(2000) });
    expect(big.status).toBe(200);
    expect(big.json["store"]).toBe(false);
    expect((await g.call("GET", `/v1/responses/${String(big.json["id"])}`)).status).toBe(404);
  });

  it("stores nothing with a TTL of 0; previous_response_id is then a 404 in OpenAI's words", async () => {
    const g = gateway({ responses: { ttlSec: 0 } });
    const first = await g.create({ input: "one" });
    expect(first.json["store"]).toBe(false);
    const next = await g.create({ input: "two", previous_response_id: first.json["id"] });
    expect(next).toEqual({
      status: 404,
      json: {
        error: {
          message: `Previous response with id '${String(first.json["id"])}' not found.`,
          type: "invalid_request_error",
          param: "previous_response_id",
          code: "previous_response_not_found",
        },
      },
    });
  });

  it("gives anonymous requests' responses to their client address", async () => {
    const g = gateway({
      apiKeys: [],
      allowAnonymous: true,
      runtime: { remoteAddress: (c) => c.req.header("x-test-peer") },
    });
    const ask = (body: JsonObject, peer: string) =>
      g.app.request("/v1/responses", {
        method: "POST",
        headers: { "content-type": "application/json", "x-test-peer": peer },
        body: JSON.stringify({ model: "m", ...body }),
      });
    const first = (await (await ask({ input: "one" }, "203.0.113.7")).json()) as JsonObject;
    expect((await ask({ input: "two", previous_response_id: first["id"] }, "203.0.113.7")).status).toBe(200);
    expect((await ask({ input: "two", previous_response_id: first["id"] }, "198.51.100.1")).status).toBe(404);
  });
});

describe("stored responses with Redis unreachable", () => {
  it("answers 503 to what must read it, and store: false to what could not be written", async () => {
    const dead = unreachableRedis();
    const g = gateway({ responses: { store: createRedisResponseStore({ client: dead, prefix: "unused" }) } });
    const fresh = await g.create({ input: "one" });
    expect(fresh.status).toBe(200);
    expect(fresh.json["store"]).toBe(false);
    const next = await g.create({ input: "two", previous_response_id: "resp_1" });
    expect(next.status).toBe(503);
    expect(next.json).toMatchObject({ error: { code: "response_store_unavailable", type: "service_unavailable" } });
    expect((await g.call("GET", "/v1/responses/resp_1")).status).toBe(503);
    dead.disconnect();
  });
});

describe("stored responses shared through Redis", () => {
  const prefix = `slm-test-responses-${randomBytes(6).toString("hex")}`;
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis("redis://127.0.0.1:6379", { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("one gateway continues, reads and deletes what another stored; other keys still see nothing", async () => {
    const one = gateway({ responses: { store: createRedisResponseStore({ client: redis, prefix }) } });
    const two = gateway({ responses: { store: createRedisResponseStore({ client: redis, prefix }) } });
    const first = await one.create({ input: "one" });
    const answer = (first.json["output"] as JsonObject[])[0]!;
    const second = await two.create({ input: "two", previous_response_id: first.json["id"] });
    expect(text(second.json)).toBe("seen 3");
    const referred = await one.create({ input: [{ type: "item_reference", id: answer["id"] }] });
    expect(text(referred.json)).toBe("seen 1");
    expect((await one.call("GET", `/v1/responses/${String(second.json["id"])}`)).status).toBe(200);
    expect((await two.call("GET", `/v1/responses/${String(first.json["id"])}`, undefined, OTHER)).status).toBe(404);
    expect((await two.call("DELETE", `/v1/responses/${String(first.json["id"])}`)).status).toBe(200);
    expect((await one.call("GET", `/v1/responses/${String(first.json["id"])}`)).status).toBe(404);
    // The chain second continues lost its first response.
    const broken = await one.create({ input: "three", previous_response_id: second.json["id"] });
    expect(broken.status).toBe(404);
    expect(broken.json).toMatchObject({ error: { code: "previous_response_not_found" } });
    const keys = await redis.keys(`${prefix}:responses:*`);
    expect(keys.length).toBeGreaterThan(0);
    const ttl = await redis.ttl(keys[0]!);
    expect(ttl).toBeGreaterThan(29 * 24 * 3600);
  });
});
