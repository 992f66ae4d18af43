import { expect } from "vitest";
import { until } from "./gateway-process.ts";
import type { StubInference } from "./stub-inference.ts";

/**
 * Opens a slow stream through the gateway, reads one chunk, disconnects, and asserts the stub upstream saw its stream
 * closed before it finished: the gateway aborted the generation.
 */
export async function expectDisconnectAbortsUpstream(options: {
  url: string;
  key: string;
  stub: StubInference;
  timeoutMs: number;
}) {
  const controller = new AbortController();
  const res = await fetch(`${options.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${options.key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "slow", messages: [{ role: "user", content: "hi" }], stream: true }),
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  const stream = options.stub.streams.at(-1)!;
  controller.abort();
  await until(() => stream.closedEarly, options.timeoutMs);
  expect(stream.finishedAt).toBeNull();
}
