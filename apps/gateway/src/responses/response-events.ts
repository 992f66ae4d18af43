import type { JsonObject } from "../types.ts";

/**
 * A Responses event stream, relayed as it comes, with its lifecycle events (`response.created`, `.in_progress`,
 * `.completed`, `.incomplete`, `.failed`) seen and rewritten: their `response` object goes through `rewrite` (the
 * gateway's `store` and `previous_response_id`, and the moment a completed response is stored). Pull-based, one
 * upstream read per pull, like the relay it wraps (upstream/event-stream.ts): nothing is read faster than the client
 * takes it and nothing is held back but the tail of an event not yet complete; other events pass as their own text.
 * Before the stream ends, `beforeEnd` is awaited (the store write of the completed response), so a client that read
 * the stream to its end finds its response stored. Cancelling cancels the upstream.
 */

export interface ResponseEventsOptions {
  /** Each lifecycle event's `response`; returns the object the client gets instead. */
  rewrite(type: string, response: JsonObject): JsonObject;
  beforeEnd?(): Promise<void>;
}

const LIFECYCLE = new Set([
  "response.created",
  "response.in_progress",
  "response.queued",
  "response.completed",
  "response.incomplete",
  "response.failed",
]);

/** One event block (without its blank line), rewritten when it is a lifecycle event, else as it came. */
function rewriteBlock(block: string, options: ResponseEventsOptions): string {
  if (!block.includes("response.")) return block;
  let type: string | undefined;
  const data: string[] = [];
  const others: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) type = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    else others.push(line);
  }
  if (data.length === 0) return block;
  let payload: JsonObject;
  try {
    payload = JSON.parse(data.join("\n")) as JsonObject;
  } catch {
    return block;
  }
  const name = typeof payload["type"] === "string" ? payload["type"] : type;
  const response = payload["response"];
  if (name === undefined || !LIFECYCLE.has(name) || typeof response !== "object" || response === null) return block;
  payload["response"] = options.rewrite(name, response as JsonObject);
  const head = [...(type !== undefined ? [`event: ${type}`] : []), ...others.filter((l) => l !== "")];
  return [...head, `data: ${JSON.stringify(payload)}`].join("\n");
}

export function rewriteResponseEvents(
  body: ReadableStream<Uint8Array>,
  options: ResponseEventsOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  /** Text of the event being received (no blank line seen yet). */
  let pending = "";

  /** The complete events in `pending` plus `text`, rewritten; what follows the last one stays pending. */
  function take(text: string): string {
    pending += text;
    // Line ends as the SSE spec allows, as "\n" (a "\r" at the very end may be the first half of a "\r\n").
    const held = pending.endsWith("\r") ? "\r" : "";
    const normalized = (held ? pending.slice(0, -1) : pending).replace(/\r\n?/g, "\n");
    const end = normalized.lastIndexOf("\n\n");
    if (end < 0) {
      pending = normalized + held;
      return "";
    }
    pending = normalized.slice(end + 2) + held;
    return `${normalized
      .slice(0, end)
      .split("\n\n")
      .map((block) => rewriteBlock(block, options))
      .join("\n\n")}\n\n`;
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            // An event cut short (no blank line after it) is passed on as it came: a client's parser drops it.
            const tail = take(decoder.decode()) + pending;
            pending = "";
            if (tail !== "") controller.enqueue(encoder.encode(tail));
            await options.beforeEnd?.();
            controller.close();
            return;
          }
          const out = take(decoder.decode(value, { stream: true }));
          if (out !== "") {
            controller.enqueue(encoder.encode(out));
            return;
          }
          // Only part of an event: read on, so that a pull always delivers or ends.
        }
      },
      async cancel(reason) {
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
