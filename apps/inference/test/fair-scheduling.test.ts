import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue, serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * One principal's flood does not starve another (issue 22, finding 3): with one sequence, a heavy principal's backlog
 * waits, a light principal's request takes the next free sequence ahead of it, and the heavy principal's requests
 * beyond its share of the queue are its own 429s. Asserted on completion order and status codes, never on time.
 */
const MAX_QUEUE = 8;
const MAX_QUEUE_PER_PRINCIPAL = 5;
let served: ServedModel;

beforeAll(async () => {
  served = await serveTinyModel({
    env: { PARALLEL: "1", MAX_QUEUE: String(MAX_QUEUE), MAX_QUEUE_PER_PRINCIPAL: String(MAX_QUEUE_PER_PRINCIPAL) },
  });
}, 120_000);
afterAll(async () => {
  await served?.stop();
});

const WORDS = ["hello", "world", "time", "day", "question", "answer", "model", "year"];
const complete = (principal: string | undefined, prompt: string, maxTokens: number) =>
  fetch(`${served.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(principal ? { "x-slm-principal": principal } : {}) },
    body: JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 0 }),
  });

async function queueDepth(): Promise<number> {
  return metricValue(await (await fetch(`${served.url}/metrics`)).text(), "inference_queue_depth") ?? 0;
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 5));
}

describe("fair scheduling between principals", () => {
  it("serves a light principal's request ahead of a heavy principal's backlog, and refuses only the heavy one", async () => {
    const finished: string[] = [];
    const track = (name: string, response: Promise<Response>) =>
      response.then(async (r) => {
        await r.arrayBuffer();
        finished.push(`${name}:${r.status}`);
        return r;
      });
    // One running, five waiting (its share), two refused: all from the heavy principal.
    const heavy = WORDS.map((word, i) => track(`heavy${i}`, complete("heavy-key", `The ${word} of the day`, 400)));
    await until(async () => (await queueDepth()) >= MAX_QUEUE_PER_PRINCIPAL);
    const light = await track("light", complete("light-key", "Hello", 2));
    expect(light.status).toBe(200);
    const responses = await Promise.all(heavy);

    // The light request finished right after the one running when it arrived (or the one after, had that just
    // ended), before the rest of the heavy backlog.
    const done = finished.filter((f) => f.endsWith(":200"));
    expect(done.indexOf("light:200")).toBeLessThanOrEqual(2);
    expect(done).toHaveLength(1 + MAX_QUEUE_PER_PRINCIPAL + 1);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(WORDS.length - 1 - MAX_QUEUE_PER_PRINCIPAL);
    for (const r of refused) expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await queueDepth()).toBe(0);
  }, 120_000);
});
