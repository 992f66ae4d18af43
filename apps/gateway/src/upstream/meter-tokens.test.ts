import type { Usage } from "@slm/config";
import { describe, expect, it } from "vitest";
import { chatInit, CHAT, COMPLETION, testApp } from "../../test/support/test-app.ts";
import type { TokenMeter } from "../types.ts";
import { meterTokens, totalTokensOf, worstCaseTokens } from "./meter-tokens.ts";

function recorder() {
  const calls: string[] = [];
  const meter: TokenMeter = {
    admit: async () => ({ allowed: true, limit: 0, remaining: 0, resetMs: 0 }),
    started: false,
    reserve: (tokens) => calls.push(`reserve ${tokens}`),
    settle: (total) => calls.push(`settle ${total}`),
  };
  return { calls, meter };
}

// 40 bytes: an estimate of 10 tokens; a cap of 100 tokens, twice (n = 2).
const shaped = { body: "x".repeat(40), json: { max_tokens: 100, n: 2 } };

describe("meterTokens", () => {
  it("reserves the prompt's estimate before sending", () => {
    const { calls, meter } = recorder();
    meterTokens(meter, shaped);
    expect(calls).toEqual(["reserve 10"]);
  });

  it("settles each outcome: nothing, the worst case, a JSON answer's usage or else the estimate", () => {
    const cases: Array<[(tokens: ReturnType<typeof meterTokens>) => void, number]> = [
      [(t) => t.settleNothing(), 0],
      [(t) => t.settleWorstCase(), 10 + 200],
      [(t) => t.settleAnswer('{"usage":{"prompt_tokens":3,"total_tokens":7}}'), 7],
      [(t) => t.settleAnswer('{"choices":[]}'), 10],
    ];
    for (const [outcome, charged] of cases) {
      const { calls, meter } = recorder();
      outcome(meterTokens(meter, shaped));
      expect(calls).toEqual(["reserve 10", `settle ${charged}`]);
    }
  });

  it("settles a stream at its usage, else the estimate plus its events when complete, else the worst case", () => {
    const settled = (usage: Usage | undefined, events: number, complete: boolean) => {
      const { calls, meter } = recorder();
      meterTokens(meter, shaped).onStreamUsage?.(usage, events, complete);
      return calls.at(-1);
    };
    expect(settled({ prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 }, 5, false)).toBe("settle 42");
    expect(settled(undefined, 5, true)).toBe("settle 15");
    expect(settled(undefined, 5, false)).toBe("settle 210");
  });

  it("does nothing, and asks the relay to watch nothing, when the request is not metered", () => {
    const tokens = meterTokens(undefined, shaped);
    expect(tokens.onStreamUsage).toBeUndefined();
    expect(() => {
      tokens.settleNothing();
      tokens.settleWorstCase();
      tokens.settleAnswer("{}");
    }).not.toThrow();
  });
});

describe("worstCaseTokens", () => {
  it("is what a request may cost at most: the prompt's estimate plus its cap times n", () => {
    expect(worstCaseTokens(shaped)).toBe(10 + 200);
    expect(worstCaseTokens({ body: "x".repeat(40), json: { max_completion_tokens: 7, max_tokens: 100 } })).toBe(17);
    expect(worstCaseTokens({ body: "x", json: { input: "embeddings have no cap" } })).toBe(1);
  });
});

describe("totalTokensOf", () => {
  it("reads total_tokens after the last usage key", () => {
    expect(totalTokensOf('{"usage":{"total_tokens":1},"x":{"usage":{"total_tokens": 9}}}')).toBe(9);
    expect(totalTokensOf('{"total_tokens":3}')).toBeUndefined();
  });
});

describe("cached prompt tokens (GATEWAY_CACHED_TOKEN_WEIGHT)", () => {
  // 100 prompt tokens of which 80 cached, 10 generated: (100 - 80) + 80 x weight + 10.
  const chatUsage = {
    prompt_tokens: 100,
    completion_tokens: 10,
    total_tokens: 110,
    prompt_tokens_details: { cached_tokens: 80 },
  };
  const responsesUsage = {
    input_tokens: 100,
    input_tokens_details: { cached_tokens: 80 },
    output_tokens: 10,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 110,
  };
  const settled = (weight: number | undefined, outcome: (t: ReturnType<typeof meterTokens>) => void) => {
    const { calls, meter } = recorder();
    outcome(meterTokens(meter, shaped, weight === undefined ? undefined : { cachedTokenWeight: weight }));
    return calls.at(-1);
  };

  it("charges cached prompt tokens at the weight: JSON answers of chat, completions and Responses", () => {
    const chat = JSON.stringify({ choices: [], usage: chatUsage });
    const responses = JSON.stringify({ object: "response", usage: responsesUsage, user: null, metadata: {} });
    expect(settled(0.5, (t) => t.settleAnswer(chat))).toBe("settle 70");
    expect(settled(0.5, (t) => t.settleAnswer(responses))).toBe("settle 70");
    expect(settled(0, (t) => t.settleAnswer(chat))).toBe("settle 30");
  });

  it("charges cached prompt tokens at the weight: stream usage (chat chunk and response.completed)", () => {
    expect(settled(0.5, (t) => t.onStreamUsage?.(chatUsage as Usage, 3, true))).toBe("settle 70");
    expect(settled(0.5, (t) => t.onStreamUsage?.(responsesUsage as unknown as Usage, 3, true))).toBe("settle 70");
  });

  it("charges them in full by default (weight 1), and a usage without details as before", () => {
    expect(settled(undefined, (t) => t.settleAnswer(JSON.stringify({ usage: chatUsage })))).toBe("settle 110");
    expect(settled(1, (t) => t.onStreamUsage?.(chatUsage as Usage, 3, true))).toBe("settle 110");
    expect(settled(0.5, (t) => t.settleAnswer('{"usage":{"prompt_tokens":3,"total_tokens":7}}'))).toBe("settle 7");
  });

  it("reads the answer's own usage, not a metadata key named usage after it", () => {
    const text = JSON.stringify({ usage: chatUsage, metadata: { usage: "free text" } });
    expect(settled(0.5, (t) => t.settleAnswer(text))).toBe("settle 70");
  });
});

describe("cached prompt tokens through the gateway", () => {
  const usage = {
    prompt_tokens: 100,
    completion_tokens: 10,
    total_tokens: 110,
    prompt_tokens_details: { cached_tokens: 80 },
  };
  const sse = (body: string) => new Response(body, { headers: { "content-type": "text/event-stream" } });
  const routes = {
    "POST /v1/chat/completions": (call: { body: string | undefined }) =>
      JSON.parse(call.body!).stream
        ? sse(
            `data: ${JSON.stringify({ ...COMPLETION, object: "chat.completion.chunk", choices: [], usage })}\n\ndata: [DONE]\n\n`,
          )
        : Response.json({ ...COMPLETION, usage }),
  };

  /** What the first request was charged: the second's remaining tokens, less its own worst case held while it runs. */
  async function charged(options: { cachedTokenWeight?: number }, stream: boolean): Promise<number> {
    const { app, upstream } = testApp(
      { ...options, defaultPolicy: { tokensPerMinute: 10_000, maxTokens: 10 } },
      routes,
    );
    const body = { ...CHAT, stream };
    const first = await app.request("/v1/chat/completions", chatInit(body));
    await first.text();
    const second = await app.request("/v1/chat/completions", chatInit(body));
    await second.text();
    const worst = Math.ceil(upstream.last()!.body!.length / 4) + 10;
    return 10_000 - worst - Number(second.headers.get("x-ratelimit-remaining-tokens"));
  }

  it("charges (prompt - cached) + cached x GATEWAY_CACHED_TOKEN_WEIGHT + completion, JSON and streamed", async () => {
    expect(await charged({ cachedTokenWeight: 0.5 }, false)).toBe(70);
    expect(await charged({ cachedTokenWeight: 0.5 }, true)).toBe(70);
    expect(await charged({}, false)).toBe(110);
    expect(await charged({}, true)).toBe(110);
  });
});
