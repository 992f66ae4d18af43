/**
 * Collects streamed text and hands it to `flush` at most once per animation frame. Tokens can arrive faster than the
 * page can lay out a growing message; updating the DOM per token would keep the main thread busy enough to delay
 * input events - the Stop button among them - until the stream has been drained.
 */

export interface FrameBatcher {
  push(text: string): void;
  /** Flushes what is pending now (at the end of a stream). */
  flushNow(): void;
}

export function frameBatcher(
  flush: (text: string) => void,
  schedule: (callback: () => void) => unknown = requestAnimationFrame,
): FrameBatcher {
  let pending = "";
  let scheduled = false;
  const flushNow = () => {
    scheduled = false;
    if (pending === "") return;
    const text = pending;
    pending = "";
    flush(text);
  };
  return {
    push(text) {
      pending += text;
      if (!scheduled) {
        scheduled = true;
        schedule(flushNow);
      }
    },
    flushNow,
  };
}
