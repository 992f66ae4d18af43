import type { Usage } from "@slm/config";
import { createParser, type EventSourceMessage } from "eventsource-parser";

/**
 * Relays an SSE body from inference one chunk at a time (pull-based: nothing is read from inference faster than the
 * client takes it). Optionally watches the events (eventsource-parser) for the usage report, for token quotas, and
 * removes it when the gateway - not the client - asked for it. If the upstream body breaks, `onBreak` supplies a
 * closing error event. Cancelling (the client went away) cancels the upstream body. `onEnd` runs exactly once.
 */

export interface RelayEventStreamOptions {
  /** Remove the usage report (and `usage` fields) the client did not ask for. */
  stripUsage?: boolean;
  /**
   * Called once at the end with the usage seen (if any), the number of data events relayed, and whether the stream
   * ran to its end (false: the client left or the upstream broke).
   */
  onUsage?: (usage: Usage | undefined, events: number, complete: boolean) => void;
  /** The bytes to send when the upstream breaks, or null to just end. */
  onBreak: (err: unknown) => Uint8Array | null;
  onEnd?: () => void;
}

function isUsage(value: unknown): value is Usage {
  return typeof value === "object" && value !== null && typeof (value as Usage).total_tokens === "number";
}

/** An event back in wire form (only for events the relay rewrites; untouched ones pass through as bytes). */
function serialize(event: EventSourceMessage, data: string): string {
  let out = "";
  if (event.event !== undefined) out += `event: ${event.event}\n`;
  if (event.id !== undefined) out += `id: ${event.id}\n`;
  for (const line of data.split("\n")) out += `data: ${line}\n`;
  return `${out}\n`;
}

export function relayEventStream(
  body: ReadableStream<Uint8Array>,
  options: RelayEventStreamOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const watch = options.onUsage !== undefined || options.stripUsage === true;
  const strip = options.stripUsage === true;
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let usage: Usage | undefined;
  let events = 0;
  let ended = false;
  /** When stripping: the events parsed from the current chunk, re-serialised, to send instead of its bytes. */
  let out = "";

  const parser = createParser({
    onEvent(event) {
      if (event.data === "[DONE]") {
        if (strip) out += serialize(event, event.data);
        return;
      }
      events++;
      let data = event.data;
      if (data.includes('"usage"')) {
        let payload: Record<string, unknown> | undefined;
        try {
          payload = JSON.parse(data) as Record<string, unknown>;
        } catch {
          payload = undefined;
        }
        if (payload !== undefined) {
          if (isUsage(payload["usage"])) usage = payload["usage"];
          else if (isUsage((payload["response"] as Record<string, unknown> | undefined)?.["usage"])) {
            // Responses streams: the usage is in response.completed (or .incomplete).
            usage = (payload["response"] as { usage: Usage }).usage;
          }
          if (strip && "usage" in payload) {
            if (Array.isArray(payload["choices"]) && payload["choices"].length === 0) {
              events--;
              return; // the usage-only chunk the client did not ask for
            }
            delete payload["usage"];
            data = JSON.stringify(payload);
          }
        }
      }
      if (strip) out += serialize(event, data);
    },
    onComment(comment) {
      if (strip) out += `:${comment}\n\n`;
    },
  });

  function end(complete: boolean): void {
    if (ended) return;
    ended = true;
    if (options.onUsage) options.onUsage(usage, events, complete);
    options.onEnd?.();
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) {
              controller.close();
              end(true);
              return;
            }
            if (!watch) {
              controller.enqueue(value);
              return;
            }
            parser.feed(decoder.decode(value, { stream: true }));
            if (!strip) {
              controller.enqueue(value);
              return;
            }
            if (out !== "") {
              controller.enqueue(encoder.encode(out));
              out = "";
              return;
            }
            // Only part of an event (or a dropped one): read on, so that pull always delivers or ends.
          }
        } catch (err) {
          const tail = options.onBreak(err);
          if (tail) controller.enqueue(tail);
          controller.close();
          end(false);
        }
      },
      async cancel(reason) {
        end(false);
        // The upstream body may already have failed (the abort that follows a disconnect errors it first).
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
