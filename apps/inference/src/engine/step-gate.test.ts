import { describe, expect, it } from "vitest";
import { StepGate } from "./step-gate.ts";

/** A generation's step: arrive, then (as `generate` does) await the gate and record when it resumed. */
async function step(gate: StepGate<string>, key: string, resumed: string[]): Promise<void> {
  await gate.arrive(key);
  resumed.push(key);
}

describe("StepGate", () => {
  it("resumes the generations in key order even when the first key arrives last", async () => {
    const gate = new StepGate(["a", "b"]);
    const resumed: string[] = [];
    await gate.arrive("a"); // the only running generation: through at once
    const b = step(gate, "b", resumed); // b joins and waits for a
    const a = step(gate, "a", resumed); // a's token comes last and completes the step
    await Promise.all([a, b]);
    // Each resumed generation queues its next decode at once: this is the order of the next llama.cpp batch, which
    // llama.cpp computes in one pass only in increasing sequence order.
    expect(resumed).toEqual(["a", "b"]);
  });

  it("waits for every running generation, and no longer for one that left", async () => {
    const gate = new StepGate(["a", "b"]);
    const resumed: string[] = [];
    await gate.arrive("a");
    await Promise.all([gate.arrive("b"), gate.arrive("a")]);
    const a = step(gate, "a", resumed);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(resumed).toEqual([]);
    gate.leave("b");
    await a;
    expect(resumed).toEqual(["a"]);
  });
});
