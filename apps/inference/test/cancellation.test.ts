import { afterAll, describe, expect, it } from "vitest";
import { metricValue, readSse, serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/**
 * A client that leaves, or a request past its deadline, stops its generation within one decoding step and frees its
 * sequence: the generated-after-cancel metric stays within one token per stream.
 */
const LONG = { model: { contextLength: 4096 }, env: { CONTEXT_SIZE: "4096" } };
const started: ServedModel[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
});

async function serve(env: Record<string, string>): Promise<ServedModel> {
  const served = await serveTinyModel({ model: LONG.model, env: { ...LONG.env, ...env } });
  started.push(served);
  return served;
}

const metrics = async (served: ServedModel) => (await fetch(`${served.url}/metrics`)).text();

function streamRequest(served: ServedModel, signal?: AbortSignal, maxTokens = 4000) {
  return fetch(`${served.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      messages: [{ role: "user", content: "Tell me a long story" }],
      max_tokens: maxTokens,
      temperature: 0.9,
      stream: true,
    }),
    ...(signal ? { signal } : {}),
  });
}

describe("cancellation", () => {
  it("aborting 20 streams mid-generation frees every slot, with at most one token generated after each cancel", {
    timeout: 60_000,
  }, async () => {
    const served = await serve({ PARALLEL: "20", MAX_QUEUE: "0" });
    const clients = Array.from({ length: 20 }, () => new AbortController());
    const readers = await Promise.all(
      clients.map(async (client) => {
        const response = await streamRequest(served, client.signal);
        expect(response.status).toBe(200);
        return response.body!.getReader();
      }),
    );
    // Every stream is generating: read a few chunks from each, then hang up.
    await Promise.all(
      readers.map(async (reader) => {
        let text = "";
        while ((text.match(/data: /g) ?? []).length < 4) text += new TextDecoder().decode((await reader.read()).value);
      }),
    );
    for (const client of clients) client.abort();

    await expect
      .poll(async () => metricValue(await metrics(served), "inference_busy_slots"), { timeout: 10_000 })
      .toBe(0);
    const text = await metrics(served);
    expect(metricValue(text, "inference_cancellations_total", 'reason="client_closed"')).toBe(20);
    expect(metricValue(text, "inference_generated_after_cancel_tokens_total") ?? 0).toBeLessThanOrEqual(20);
    // They stopped early: far fewer tokens than the 20 x 4000 asked for.
    expect(metricValue(text, "inference_completion_tokens_total", 'route="/v1/chat/completions"')).toBeLessThan(
      20 * 1000,
    );

    // Every slot is usable again.
    const again = await Promise.all(
      Array.from({ length: 20 }, async () => readSse(await streamRequest(served, undefined, 8))),
    );
    for (const events of again) expect(events.at(-1)?.data).toBe("[DONE]");
  });

  it("ends a request past REQUEST_TIMEOUT_MS with 504 (JSON), event: error (stream) or 504 while queued", {
    timeout: 60_000,
  }, async () => {
    const served = await serve({ PARALLEL: "1", MAX_QUEUE: "4", REQUEST_TIMEOUT_MS: "1000" });
    const body = (stream: boolean) =>
      JSON.stringify({ messages: [{ role: "user", content: "Go on" }], max_tokens: 4000, temperature: 0.9, stream });
    const post = (stream: boolean) =>
      fetch(`${served.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: body(stream),
      });

    const [json, queued] = await Promise.all([post(false), post(false)]);
    expect(json.status).toBe(504);
    expect(await json.json()).toMatchObject({ error: { type: "server_error", code: "request_timeout" } });
    expect(queued.status).toBe(504);

    const events = await readSse(await post(true));
    expect(events.at(-1)).toMatchObject({ event: "error", data: { error: { code: "request_timeout" } } });
    expect(events.some((e) => e.data === "[DONE]")).toBe(false);

    await expect.poll(async () => metricValue(await metrics(served), "inference_busy_slots")).toBe(0);
    const text = await metrics(served);
    // The JSON request, the queued one (waiting or just started) and the streamed one.
    expect(metricValue(text, "inference_cancellations_total", 'reason="deadline"')).toBe(3);
    expect(metricValue(text, "inference_generated_after_cancel_tokens_total") ?? 0).toBeLessThanOrEqual(3);
  });
});
