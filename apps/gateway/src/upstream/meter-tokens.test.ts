import type { Usage } from "@slm/config";
import { describe, expect, it } from "vitest";
import type { TokenMeter } from "../types.ts";
import { meterTokens, totalTokensOf, worstCaseTokens } from "./meter-tokens.ts";

function recorder() {
  const calls: string[] = [];
  const meter: TokenMeter = {
    admit: async () => ({ allowed: true, limit: 0, remaining: 0, resetMs: 0 }),
    started: false,
    reserve: (tokens) => calls.push(`reserve ${tokens}`),
    settle: (total) => calls.push(`settle ${total}`),
  };
  return { calls, meter };
}

// 40 bytes: an estimate of 10 tokens; a cap of 100 tokens, twice (n = 2).
const shaped = { body: "x".repeat(40), json: { max_tokens: 100, n: 2 } };

describe("meterTokens", () => {
  it("reserves the prompt's estimate before sending", () => {
    const { calls, meter } = recorder();
    meterTokens(meter, shaped);
    expect(calls).toEqual(["reserve 10"]);
  });

  it("settles each outcome: nothing, the worst case, a JSON answer's usage or else the estimate", () => {
    const cases: Array<[(tokens: ReturnType<typeof meterTokens>) => void, number]> = [
      [(t) => t.settleNothing(), 0],
      [(t) => t.settleWorstCase(), 10 + 200],
      [(t) => t.settleAnswer('{"usage":{"prompt_tokens":3,"total_tokens":7}}'), 7],
      [(t) => t.settleAnswer('{"choices":[]}'), 10],
    ];
    for (const [outcome, charged] of cases) {
      const { calls, meter } = recorder();
      outcome(meterTokens(meter, shaped));
      expect(calls).toEqual(["reserve 10", `settle ${charged}`]);
    }
  });

  it("settles a stream at its usage, else the estimate plus its events when complete, else the worst case", () => {
    const settled = (usage: Usage | undefined, events: number, complete: boolean) => {
      const { calls, meter } = recorder();
      meterTokens(meter, shaped).onStreamUsage?.(usage, events, complete);
      return calls.at(-1);
    };
    expect(settled({ prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 }, 5, false)).toBe("settle 42");
    expect(settled(undefined, 5, true)).toBe("settle 15");
    expect(settled(undefined, 5, false)).toBe("settle 210");
  });

  it("does nothing, and asks the relay to watch nothing, when the request is not metered", () => {
    const tokens = meterTokens(undefined, shaped);
    expect(tokens.onStreamUsage).toBeUndefined();
    expect(() => {
      tokens.settleNothing();
      tokens.settleWorstCase();
      tokens.settleAnswer("{}");
    }).not.toThrow();
  });
});

describe("worstCaseTokens", () => {
  it("is what a request may cost at most: the prompt's estimate plus its cap times n", () => {
    expect(worstCaseTokens(shaped)).toBe(10 + 200);
    expect(worstCaseTokens({ body: "x".repeat(40), json: { max_completion_tokens: 7, max_tokens: 100 } })).toBe(17);
    expect(worstCaseTokens({ body: "x", json: { input: "embeddings have no cap" } })).toBe(1);
  });
});

describe("totalTokensOf", () => {
  it("reads total_tokens after the last usage key", () => {
    expect(totalTokensOf('{"usage":{"total_tokens":1},"x":{"usage":{"total_tokens": 9}}}')).toBe(9);
    expect(totalTokensOf('{"total_tokens":3}')).toBeUndefined();
  });
});
