import cliProgress from "cli-progress";
import type { SupplyChainEvent } from "../hub/index.ts";

export interface ProgressReporter {
  progress(progress: { downloadedBytes: number; totalBytes: number }): void;
  event(event: SupplyChainEvent): void;
  done(): void;
}

const MB = 1024 * 1024;

/**
 * Download progress for the `models:*` commands: a live bar (cli-progress) on a terminal, and plain lines at every
 * 10% otherwise (container builds and CI logs), both on stderr so stdout carries only the results.
 */
export function createProgressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const mb = (bytes: number) => (bytes / MB).toFixed(1);
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: `${label} [{bar}] {percentage}% | {done}/{all} MB | eta {eta_formatted}`, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      progress({ downloadedBytes, totalBytes }) {
        const payload = { done: mb(downloadedBytes), all: mb(totalBytes) };
        if (!started) bar.start(totalBytes, downloadedBytes, payload);
        else bar.update(downloadedBytes, payload);
        started = true;
      },
      event(event) {
        // A bar being drawn owns the current line: start a new one first.
        stream.write(`${started ? "\n" : ""}${event.level}: ${event.msg}\n`);
      },
      done() {
        if (started) bar.stop();
      },
    };
  }
  let lastStep = -1;
  return {
    progress({ downloadedBytes, totalBytes }) {
      const step = totalBytes > 0 ? Math.floor((downloadedBytes / totalBytes) * 10) : 10;
      if (step === lastStep) return;
      lastStep = step;
      stream.write(`${label}: ${step * 10}% (${mb(downloadedBytes)} of ${mb(totalBytes)} MB)\n`);
    },
    event(event) {
      if (event.level !== "debug") stream.write(`${event.level}: ${event.msg}\n`);
    },
    done() {},
  };
}
