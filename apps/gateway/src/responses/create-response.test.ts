import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { RequestScope } from "../middleware/request-scope.ts";
import type { GatewayEnv, JsonObject, Principal } from "../types.ts";
import { createResponse } from "./create-response.ts";
import { createMemoryResponseStore } from "./memory-store.ts";
import { ownerOf } from "./owner.ts";
import { createStoredResponses } from "./stored-responses.ts";

/**
 * The middleware alone, between a stand-in for shaping and a stand-in for the forwarder: the routing hook
 * (`conversationKey`: the first response of the conversation a request continues, through previous_response_id or
 * item_reference), and what it hands on.
 */

const principal: Principal = {
  kind: "key",
  id: "k1",
  policy: {
    models: "*",
    requestsPerMinute: 0,
    tokensPerMinute: 0,
    concurrentStreams: 0,
    concurrentRequests: 0,
    maxTokens: 16,
    maxChoices: 0,
  },
};
const scope = { throwIfGone() {}, clientGone: false } as unknown as RequestScope;

async function setup() {
  const responses = createStoredResponses({
    store: createMemoryResponseStore({ maxBytes: 1 << 20 }),
    ttlSec: 60,
    maxBytes: 1 << 20,
  });
  const seen: Array<{ key: string | undefined; body: JsonObject }> = [];
  let next = 0;
  const app = new Hono<GatewayEnv>();
  app.post(
    "/v1/responses",
    async (c, nextHandler) => {
      const json = (await c.req.json()) as JsonObject;
      c.set("principal", principal);
      c.set("requestId", "r");
      c.set("scope", scope);
      c.set("shaped", { body: JSON.stringify(json), json, model: "m", stream: false, stripUsage: false });
      await nextHandler();
    },
    createResponse({ responses, maxChain: 10, enabled: true }),
    (c) => {
      const body = JSON.parse(c.get("shaped").body) as JsonObject;
      seen.push({ key: c.get("conversationKey"), body });
      const id = `resp_${++next}`;
      return c.json({
        id,
        object: "response",
        status: "completed",
        output: [{ type: "message", id: `msg_${next}`, role: "assistant", content: [] }],
      });
    },
  );
  const post = async (body: JsonObject) =>
    (await (
      await app.request("/v1/responses", { method: "POST", body: JSON.stringify({ model: "m", ...body }) })
    ).json()) as JsonObject;
  return { responses, seen, post };
}

describe("createResponse", () => {
  it("sets conversationKey to the conversation's first response when a request continues one", async () => {
    const { seen, post, responses } = await setup();
    await post({ input: "one" }); // resp_1
    await post({ input: "two", previous_response_id: "resp_1" }); // resp_2
    await post({ input: "three", previous_response_id: "resp_2" }); // resp_3
    await post({
      input: [
        { type: "item_reference", id: "msg_3" },
        { role: "user", content: "four" },
      ],
    }); // resp_4
    await post({ input: "fresh" });
    expect(seen.map((s) => s.key)).toEqual([undefined, "resp_1", "resp_1", "resp_1", undefined]);
    const owner = await ownerOf(principal);
    expect((await responses.get(owner, "resp_3"))?.chain).toEqual(["resp_1", "resp_2"]);
    expect((await responses.get(owner, "resp_4"))?.root).toBe("resp_1");
    // The forwarder got plain items: the chain, then this request's input.
    expect((seen[2]!.body["input"] as JsonObject[]).map((item) => item["id"])).toEqual([
      expect.stringMatching(/^msg_/),
      "msg_1",
      expect.stringMatching(/^msg_/),
      "msg_2",
      expect.stringMatching(/^msg_/),
    ]);
  });
});
