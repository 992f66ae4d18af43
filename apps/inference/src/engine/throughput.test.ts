import { describe, expect, it } from "vitest";
import { ThroughputMeter } from "./throughput.ts";

describe("ThroughputMeter", () => {
  it("estimates the wait from queue depth and measured service time", () => {
    const meter = new ThroughputMeter({ weight: 0.5 });
    meter.record(2);
    expect(meter.secondsPerRequest).toBe(2);
    meter.record(4);
    expect(meter.secondsPerRequest).toBe(3);
    // 9 queued + this one, 3 s each, on 2 slots.
    expect(meter.retryAfterSeconds(9, 2)).toBe(15);
  });

  it("stays within 1 s and 10 min", () => {
    const meter = new ThroughputMeter();
    meter.record(0.01);
    expect(meter.retryAfterSeconds(0, 4)).toBe(1);
    meter.record(1e6);
    expect(meter.retryAfterSeconds(100, 1)).toBe(600);
  });
});
