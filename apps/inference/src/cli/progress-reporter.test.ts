import { describe, expect, it } from "vitest";
import { createProgressReporter } from "./progress-reporter.ts";

/** A stand-in for process.stderr that records what is written. */
function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = {
    isTTY,
    columns: 100,
    write: (chunk: string) => chunks.push(chunk) > 0,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    on: () => stream,
    removeListener: () => stream,
  };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join("") };
}

describe("createProgressReporter", () => {
  it("prints a plain line at every 10% off a terminal, and warnings as lines", () => {
    const { stream, text } = fakeStream(false);
    const reporter = createProgressReporter("downloading m.gguf", stream);
    const total = 10 * 1024 * 1024;
    for (let done = 0; done <= total; done += 512 * 1024)
      reporter.progress({ downloadedBytes: done, totalBytes: total });
    reporter.event({ level: "warn", msg: "download interrupted", fields: {} });
    reporter.event({ level: "debug", msg: "not shown", fields: {} });
    reporter.done();
    const lines = text().trim().split("\n");
    expect(lines.slice(0, 11)).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => `downloading m.gguf: ${n * 10}% (${n.toFixed(1)} of 10.0 MB)`),
    );
    expect(lines.slice(11)).toEqual(["warn: download interrupted"]);
  });

  it("draws one live bar on a terminal", () => {
    const { stream, text } = fakeStream(true);
    const reporter = createProgressReporter("downloading m.gguf", stream);
    reporter.progress({ downloadedBytes: 0, totalBytes: 2 * 1024 * 1024 });
    reporter.progress({ downloadedBytes: 2 * 1024 * 1024, totalBytes: 2 * 1024 * 1024 });
    reporter.done();
    expect(text()).toMatch(/downloading m\.gguf \[.*\] 100% \| 2\.0\/2\.0 MB/);
    expect(text()).not.toMatch(/\d+% \(/);
  });
});
