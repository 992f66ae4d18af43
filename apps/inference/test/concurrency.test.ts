import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * PARALLEL sequences plus a MAX_QUEUE wait line: PARALLEL + MAX_QUEUE + k simultaneous requests get exactly k
 * overload answers (429 with Retry-After), and every admitted request is answered exactly as it would be alone.
 */
const PARALLEL = 2;
const MAX_QUEUE = 2;
const K = 3;
let served: ServedModel;

beforeAll(async () => {
  served = await serveTinyModel({ env: { PARALLEL: String(PARALLEL), MAX_QUEUE: String(MAX_QUEUE) } });
}, 120_000);
afterAll(async () => {
  await served?.stop();
});

const WORDS = ["hello", "world", "time", "day", "question", "answer", "model"];
const request = (i: number) =>
  fetch(`${served.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    // Long enough (hundreds of tokens) that the first requests are still running when the last ones arrive.
    body: JSON.stringify({ prompt: `The ${WORDS[i]} of the day`, max_tokens: 400, temperature: 0 }),
  });

describe("concurrency", () => {
  it("admits PARALLEL + MAX_QUEUE, refuses exactly k with Retry-After, and answers the rest as if alone", async () => {
    const n = PARALLEL + MAX_QUEUE + K;
    const responses = await Promise.all(Array.from({ length: n }, (_, i) => request(i)));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<Record<string, any>>));

    const refused = responses.flatMap((r, i) => (r.status === 429 ? [i] : []));
    expect(refused).toHaveLength(K);
    for (const i of refused) {
      expect(Number(responses[i]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(bodies[i]).toMatchObject({ error: { type: "rate_limit_error", code: "server_overloaded" } });
    }
    const admitted = responses.flatMap((r, i) => (r.status === 200 ? [i] : []));
    expect(admitted).toHaveLength(PARALLEL + MAX_QUEUE);

    for (const i of admitted) {
      const alone = (await (await request(i)).json()) as Record<string, any>;
      expect(bodies[i]!.choices[0].text).toBe(alone.choices[0].text);
      // Equal but for the prompt tokens found cached, which depend on what the slot held before.
      expect({ ...bodies[i]!.usage, prompt_tokens_details: undefined }).toEqual({
        ...alone.usage,
        prompt_tokens_details: undefined,
      });
      expect(bodies[i]!.choices[0].finish_reason).toBe("length");
    }
  });
});
