import { describe, expect, it } from "vitest";
import type { JsonObject } from "../types.ts";
import { rewriteResponseEvents } from "./response-events.ts";

const encoder = new TextEncoder();
const event = (type: string, fields: JsonObject) => `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;
const response = (status: string) => ({ id: "resp_1", object: "response", status, store: false, output: [] });

/** A body that delivers `chunks` one per pull, recording how many were read. */
function source(chunks: string[]) {
  let read = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (read === chunks.length) controller.close();
        else controller.enqueue(encoder.encode(chunks[read++]!));
      },
      cancel() {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { body, read: () => read, cancelled: () => cancelled };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe("a Responses stream relayed with its lifecycle events rewritten", () => {
  const text = [
    event("response.created", { sequence_number: 0, response: response("in_progress") }),
    event("response.output_text.delta", { sequence_number: 1, item_id: "msg_1", delta: "Hel" }),
    event("response.output_text.delta", { sequence_number: 2, item_id: "msg_1", delta: "lo" }),
    event("response.completed", { sequence_number: 3, response: response("completed") }),
  ].join("");

  it("rewrites the response of lifecycle events, passes the others as they came, whatever the chunking", async () => {
    for (const size of [1, 7, 64, text.length]) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      const seen: string[] = [];
      const out = await readAll(
        rewriteResponseEvents(source(chunks).body, {
          rewrite(type, r) {
            seen.push(`${type}:${String(r["status"])}`);
            return { ...r, store: true, previous_response_id: "resp_0" };
          },
        }),
      );
      expect(seen).toEqual(["response.created:in_progress", "response.completed:completed"]);
      const blocks = out.split("\n\n").filter((b) => b !== "");
      expect(blocks).toHaveLength(4);
      expect(blocks[1]).toBe(text.split("\n\n")[1]);
      const completed = JSON.parse(blocks[3]!.split("\n")[1]!.slice(6)) as JsonObject;
      expect(blocks[3]!.startsWith("event: response.completed\n")).toBe(true);
      expect(completed).toMatchObject({
        type: "response.completed",
        sequence_number: 3,
        response: { id: "resp_1", store: true, previous_response_id: "resp_0" },
      });
    }
  });

  it("reads one upstream chunk per pull (no read-ahead) and ends only once beforeEnd settled", async () => {
    const chunks = text.split(/(?<=\n\n)/);
    const upstream = source(chunks);
    let settle!: () => void;
    const written = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const reader = rewriteResponseEvents(upstream.body, {
      rewrite: (_type, r) => r,
      beforeEnd: () => written,
    }).getReader();
    expect(upstream.read()).toBe(0);
    await reader.read();
    expect(upstream.read()).toBe(1);
    await reader.read();
    await reader.read();
    await reader.read();
    expect(upstream.read()).toBe(4);
    let ended = false;
    const end = reader.read().then((r) => {
      ended = r.done;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ended).toBe(false);
    settle();
    await end;
    expect(ended).toBe(true);
  });

  it("takes CRLF line ends, and cancelling cancels the upstream", async () => {
    const crlf = text.replaceAll("\n", "\r\n");
    const seen: string[] = [];
    const out = await readAll(
      rewriteResponseEvents(source([crlf.slice(0, 5), crlf.slice(5)]).body, {
        rewrite: (type, r) => {
          seen.push(type);
          return r;
        },
      }),
    );
    expect(seen).toEqual(["response.created", "response.completed"]);
    expect(out.split("\n\n").filter((b) => b !== "")).toHaveLength(4);

    const upstream = source([text]);
    const stream = rewriteResponseEvents(upstream.body, { rewrite: (_t, r) => r });
    await stream.cancel();
    expect(upstream.cancelled()).toBe(true);
  });
});
