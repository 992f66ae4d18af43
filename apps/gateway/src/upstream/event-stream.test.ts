import { describe, expect, it } from "vitest";
import { relayEventStream } from "./event-stream.ts";

const encoder = new TextEncoder();
const chunk = (content: string) =>
  `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content } }] })}\n\n`;
const usageChunk = `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })}\n\n`;

function source(parts: string[], error?: Error): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < parts.length) controller.enqueue(encoder.encode(parts[i++]!));
      else if (error) controller.error(error);
      else controller.close();
    },
  });
}

async function read(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe("relayEventStream", () => {
  it("passes bytes through untouched and reports the usage it saw", async () => {
    const parts = [chunk("a"), chunk("b").slice(0, 10), chunk("b").slice(10), usageChunk, "data: [DONE]\n\n"];
    let reported: unknown;
    let ends = 0;
    const text = await read(
      relayEventStream(source(parts), {
        onUsage: (usage, events) => (reported = { usage, events }),
        onBreak: () => null,
        onEnd: () => ends++,
      }),
    );
    expect(text).toBe(parts.join(""));
    expect(reported).toEqual({ usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }, events: 3 });
    expect(ends).toBe(1);
  });

  it("removes the usage chunk (and usage fields) when the gateway asked for it, keeping everything else", async () => {
    const withNullUsage = `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "x" } }], usage: null })}\n\n`;
    let tokens = 0;
    const text = await read(
      relayEventStream(
        source([chunk("a"), withNullUsage, usageChunk.slice(0, 20), usageChunk.slice(20), "data: [DONE]\n\n"]),
        {
          stripUsage: true,
          onUsage: (usage) => (tokens = usage?.total_tokens ?? 0),
          onBreak: () => null,
        },
      ),
    );
    expect(tokens).toBe(5);
    expect(text).not.toContain("usage");
    expect(text).toBe(chunk("a") + chunk("x") + "data: [DONE]\n\n");
  });

  it("relays tool-call deltas intact, also when it removes usage fields", async () => {
    const toolChunk = (toolCall: object) =>
      `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { tool_calls: [toolCall] }, finish_reason: null }], usage: null })}\n\n`;
    const opening = { index: 0, id: "call_abc", type: "function", function: { name: "get_weather", arguments: "" } };
    const fragment = { index: 0, function: { arguments: '{"city":"Paris"}' } };
    for (const stripUsage of [false, true]) {
      const parts = [toolChunk(opening), toolChunk(fragment), usageChunk, "data: [DONE]\n\n"];
      const text = await read(relayEventStream(source(parts), { stripUsage, onUsage: () => {}, onBreak: () => null }));
      const deltas = text
        .split("\n\n")
        .filter((block) => block.startsWith("data: {"))
        .flatMap((block) =>
          (JSON.parse(block.slice(6)) as { choices: Array<{ delta: { tool_calls?: unknown[] } }> }).choices.flatMap(
            (c) => c.delta.tool_calls ?? [],
          ),
        );
      expect(deltas).toEqual([opening, fragment]);
    }
  });

  it("counts data events when no usage comes", async () => {
    let reported: unknown;
    await read(
      relayEventStream(source([chunk("a"), chunk("b"), "data: [DONE]\n\n"]), {
        onUsage: (usage, events) => (reported = { usage, events }),
        onBreak: () => null,
      }),
    );
    expect(reported).toEqual({ usage: undefined, events: 2 });
  });

  it("ends a broken stream with the onBreak bytes, once", async () => {
    let ends = 0;
    const text = await read(
      relayEventStream(source([chunk("a")], new Error("socket hang up")), {
        onBreak: () => encoder.encode("event: error\ndata: {}\n\n"),
        onEnd: () => ends++,
      }),
    );
    expect(text).toBe(chunk("a") + "event: error\ndata: {}\n\n");
    expect(ends).toBe(1);
  });

  it("cancels the upstream body when the client cancels", async () => {
    let cancelled = false;
    const upstream = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(encoder.encode(chunk("a"))),
      cancel: () => void (cancelled = true),
    });
    let ends = 0;
    const reader = relayEventStream(upstream, { onBreak: () => null, onEnd: () => ends++ }).getReader();
    await reader.read();
    await reader.cancel();
    expect(cancelled).toBe(true);
    expect(ends).toBe(1);
  });
});
