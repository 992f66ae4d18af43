import { describe, expect, it } from "vitest";
import type { Token } from "node-llama-cpp";
import { endsWithTokenStop, StopMatcher } from "./stops.ts";

/** Feeds pieces one at a time, as tokens arrive; returns what was emitted and whether it stopped. */
function run(stops: string[], pieces: string[]) {
  const matcher = new StopMatcher(stops);
  const emitted: string[] = [];
  for (const piece of pieces) {
    const { emit, stopped } = matcher.push(piece);
    if (emit) emitted.push(emit);
    if (stopped) return { text: emitted.join(""), emitted, stopped: true };
  }
  emitted.push(matcher.flush());
  return { text: emitted.join(""), emitted, stopped: false };
}

describe("StopMatcher", () => {
  it("stops at a stop sequence split across pieces and never emits any part of it", () => {
    const result = run(["\nUser:"], ["Hello", " there\n", "Us", "er: more"]);
    expect(result).toMatchObject({ text: "Hello there", stopped: true });
    expect(result.emitted.join("|")).toBe("Hello| there");
  });

  it("releases held text once it can no longer become a stop", () => {
    const result = run(["END"], ["a E", "N", "x b"]);
    expect(result.emitted).toEqual(["a ", "ENx b", ""]);
    expect(result.stopped).toBe(false);
  });

  it("cuts at the earliest of several stops, and flushes a dangling prefix when generation ends", () => {
    expect(run(["cd", "b"], ["abcd"])).toMatchObject({ text: "a", stopped: true });
    expect(run(["STOP"], ["go ST"])).toMatchObject({ text: "go ST", stopped: false });
  });

  it("passes everything through without stops", () => {
    expect(run([], ["a", "b"])).toMatchObject({ text: "ab", stopped: false });
  });
});

describe("endsWithTokenStop", () => {
  const t = (...ids: number[]) => ids as Token[];
  it("matches token sequences at the end only", () => {
    expect(endsWithTokenStop(t(5, 6, 7), [t(6, 7)])).toBe(true);
    expect(endsWithTokenStop(t(5, 6, 7), [t(5, 6)])).toBe(false);
    expect(endsWithTokenStop(t(7), [t(6, 7)])).toBe(false);
  });
});
