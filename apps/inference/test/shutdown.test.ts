import { afterAll, describe, expect, it } from "vitest";
import { jsonLine } from "@slm/testkit";
import { metricValue, readSse, serveTinyModel, type ServedModel } from "./serve-tiny-model.ts";

/** SIGTERM: stop accepting, let in-flight work finish within the grace period or cancel it, exit 0. */
const started: ServedModel[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
});

async function serve(env: Record<string, string>): Promise<ServedModel> {
  const served = await serveTinyModel({
    model: { contextLength: 4096 },
    env: { CONTEXT_SIZE: "4096", PARALLEL: "1", MAX_QUEUE: "4", ...env },
  });
  started.push(served);
  return served;
}

const chat = (served: ServedModel, maxTokens: number, stream: boolean) =>
  fetch(`${served.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      messages: [{ role: "user", content: "Tell me a story" }],
      max_tokens: maxTokens,
      temperature: 0.9,
      stream,
    }),
  });

describe("shutdown", () => {
  it("lets an in-flight stream finish within the grace period, then exits 0", { timeout: 60_000 }, async () => {
    const served = await serve({ SHUTDOWN_GRACE_MS: "20000" });
    const response = await chat(served, 300, true);
    const reader = response.body!.getReader();
    await reader.read(); // generating
    served.service.child.kill("SIGTERM");
    let text = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      text += new TextDecoder().decode(chunk.value);
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(text).toMatch(/"finish_reason":"(length|stop)"/);
    expect(await served.service.exited).toBe(0);
    const messages = served.service.lines.map(jsonLine).map((j) => j?.msg);
    expect(messages).toContain("shutting down");
    expect(messages.at(-1)).toBe("stopped");
  });

  it("refuses queued work, cancels what outlives the grace period with event: error, and exits 0", {
    timeout: 60_000,
  }, async () => {
    const served = await serve({ SHUTDOWN_GRACE_MS: "300" });
    const running = await chat(served, 4000, true);
    const queued = chat(served, 10, false);
    // The second request is waiting for the only sequence.
    await expect
      .poll(async () => metricValue(await (await fetch(`${served.url}/metrics`)).text(), "inference_queue_depth"))
      .toBe(1);
    served.service.child.kill("SIGTERM");

    const refused = await queued;
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { type: "service_unavailable", code: "shutting_down" } });
    const events = await readSse(running);
    expect(events.at(-1)).toMatchObject({ event: "error", data: { error: { code: "shutting_down" } } });
    expect(await served.service.exited).toBe(0);
    expect(
      served.service.lines.map(jsonLine).some((j) => j?.msg === "grace period over: cancelling in-flight generations"),
    ).toBe(true);
  });
});
