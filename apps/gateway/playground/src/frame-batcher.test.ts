import { describe, expect, it } from "vitest";
import { frameBatcher } from "./frame-batcher.ts";

describe("frameBatcher", () => {
  it("flushes once per frame with everything pushed since the last one, and on demand", () => {
    const frames: Array<() => void> = [];
    const flushed: string[] = [];
    const batcher = frameBatcher(
      (text) => flushed.push(text),
      (callback) => frames.push(callback),
    );

    batcher.push("Once");
    batcher.push(" upon");
    expect(frames).toHaveLength(1);
    expect(flushed).toEqual([]);
    frames.shift()!();
    expect(flushed).toEqual(["Once upon"]);

    batcher.push(" a");
    batcher.flushNow();
    expect(flushed).toEqual(["Once upon", " a"]);
    frames.shift()!(); // the frame scheduled for " a" finds nothing left
    expect(flushed).toEqual(["Once upon", " a"]);
  });
});
