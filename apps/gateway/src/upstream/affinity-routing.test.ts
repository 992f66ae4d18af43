import { describe, expect, it } from "vitest";
import { CHAT, chatInit, COMPLETION, sleep, testApp } from "../../test/support/test-app.ts";
import type { AffinityMemory } from "./affinity-memory.ts";

/**
 * Conversation-affine routing through the whole app: two fake inference replicas (told apart by their URL), several
 * conversations of several turns each, sent one after the other. Each conversation stays on one replica (where its
 * prefix is cached), and the conversations spread over both.
 */

const REPLICAS = ["http://inference-a.internal:8081", "http://inference-b.internal:8081"];
const SYSTEM = { role: "system", content: "You are a helpful assistant. Answer briefly." };

function replicaOf(url: string): string {
  return new URL(url).host;
}

function conversationApp() {
  return testApp(
    { inferenceUrls: REPLICAS },
    { "POST /v1/chat/completions": () => Response.json(COMPLETION), "POST /v1/completions": () => Response.json({}) },
  );
}

describe("conversation-affine routing through the gateway", () => {
  it("sends every turn of a conversation to one replica, and spreads conversations over both", async () => {
    const { app, upstream } = conversationApp();
    const openers = ["Tell me about otters.", "What is 2 + 2?", "Write a haiku on rain.", "Translate 'cat' to French."];
    const history: Array<Array<{ role: string; content: string }>> = openers.map((text) => [
      SYSTEM,
      { role: "user", content: text },
    ]);
    const served: string[][] = openers.map(() => []);
    // Conversation by conversation, then interleaved in an irregular order: neither may decide the replica.
    const order = [0, 0, 1, 1, 2, 2, 3, 3, 3, 2, 0, 1];
    const turns = openers.map(() => 0);
    for (const i of order) {
      const turn = turns[i]!++;
      const messages = history[i]!;
      const res = await app.request("/v1/chat/completions", chatInit({ model: "m", messages }));
      expect(res.status).toBe(200);
      served[i]!.push(replicaOf(upstream.last()!.url));
      messages.push({ role: "assistant", content: `answer ${turn}` }, { role: "user", content: `follow-up ${turn}` });
    }
    expect(turns).toEqual([3, 3, 3, 3]);
    for (const replicas of served) expect(new Set(replicas).size).toBe(1);
    expect(new Set(served.map((r) => r[0])).size).toBe(2);
  });

  it("keeps a stored Responses chain (previous_response_id) on its first turn's replica", async () => {
    let n = 0;
    const answer = () => {
      n++;
      return Response.json({
        id: `resp_${n}`,
        object: "response",
        created_at: 1,
        status: "completed",
        model: "m",
        output: [
          {
            type: "message",
            id: `msg_${n}`,
            status: "completed",
            role: "assistant",
            content: [{ type: "output_text", text: `answer ${n}`, annotations: [] }],
          },
        ],
        usage: { input_tokens: 3, input_tokens_details: { cached_tokens: 0 }, output_tokens: 2, total_tokens: 5 },
      });
    };
    const { app, upstream } = testApp({ inferenceUrls: REPLICAS }, { "POST /v1/responses": answer });
    const chains = ["Tell me about otters.", "What is 2 + 2?", "Write a haiku on rain.", "Translate 'cat' to French."];
    const served: string[][] = [];
    for (const opener of chains) {
      const replicas: string[] = [];
      let previous: string | undefined;
      for (const text of [opener, "And then?", "Thanks."]) {
        const body = { model: "m", instructions: "Be brief.", input: text, previous_response_id: previous };
        const res = await app.request("/v1/responses", chatInit(body));
        expect(res.status).toBe(200);
        previous = ((await res.json()) as { id: string }).id;
        replicas.push(replicaOf(upstream.last()!.url));
      }
      served.push(replicas);
    }
    for (const replicas of served) expect(new Set(replicas).size).toBe(1);
    expect(new Set(served.map((r) => r[0])).size).toBe(2);
  });

  it("keeps requests with one prompt_cache_key together, and forwards the field to inference", async () => {
    const { app, upstream } = conversationApp();
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const body = { model: "m", prompt_cache_key: "tenant-thread-42", messages: [{ role: "user", content: `q${i}` }] };
      expect((await app.request("/v1/chat/completions", chatInit(body))).status).toBe(200);
      const call = upstream.last()!;
      seen.add(replicaOf(call.url));
      expect(JSON.parse(call.body!)).toMatchObject({ prompt_cache_key: "tenant-thread-42" });
    }
    expect(seen.size).toBe(1);
  });

  it("never sends, nor charges, a request whose client left while the affinity memory answered", async () => {
    let asked!: () => void;
    const lookup = new Promise<void>((resolve) => (asked = resolve));
    let answer: ((replica: string | undefined) => void) | undefined;
    const memory: AffinityMemory = {
      shared: true,
      // The first lookup answers when the test says so, the others at once.
      recall: () => {
        if (answer !== undefined) return Promise.resolve(undefined);
        asked();
        return new Promise((resolve) => (answer = resolve));
      },
      remember: () => {},
    };
    const { app, upstream } = testApp(
      { inferenceUrls: REPLICAS, affinity: { memory }, defaultPolicy: { tokensPerMinute: 1000 } },
      { "POST /v1/chat/completions": () => Response.json(COMPLETION) },
    );
    const client = new AbortController();
    const pending = app.request(
      new Request("http://gw/v1/chat/completions", { ...chatInit(CHAT), signal: client.signal }),
    );
    await lookup;
    client.abort();
    await sleep(5);
    answer!(undefined);
    expect((await pending).status).toBe(499);
    expect(upstream.api()).toHaveLength(0);
    // Nothing was charged: what is left is the quota less the next request's own reservation.
    const res = await app.request("/v1/chat/completions", chatInit(CHAT));
    const worstCase = Math.ceil(upstream.last()!.body!.length / 4) + 256;
    expect(res.headers.get("x-ratelimit-remaining-tokens")).toBe(String(1000 - worstCase));
  });
});
