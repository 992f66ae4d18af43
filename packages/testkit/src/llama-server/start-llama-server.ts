import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { freePort } from "../process/free-port.ts";

/**
 * llama.cpp's own llama-server, the reference we compare with (benchmarks, fidelity goldens), when a binary is
 * available: LLAMA_SERVER, or the build the README describes (/tmp/llama-server-build/build/bin/llama-server).
 * Never part of the product, never needed by the test suite.
 */
export const LLAMA_SERVER = process.env["LLAMA_SERVER"] ?? "/tmp/llama-server-build/build/bin/llama-server";

export function hasLlamaServer(): boolean {
  return existsSync(LLAMA_SERVER);
}

export interface StartedLlamaServer {
  url: string;
  /** From spawn to the first 200 from /health (llama-server warms up before that). */
  readyMs: number;
  /** The server's process id (benchmarks read its CPU time). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface LlamaServerOptions {
  modelPath: string;
  threads: number;
  parallel: number;
  /** Tokens per slot. */
  contextSize: number;
  /** The llama-server binary. Default: LLAMA_SERVER. */
  binary?: string;
  /** More command-line arguments, e.g. ["--jinja"]. */
  args?: readonly string[];
}

export async function startLlamaServer(options: LlamaServerOptions): Promise<StartedLlamaServer> {
  const port = await freePort();
  const started = performance.now();
  const child: ChildProcess = spawn(
    options.binary ?? LLAMA_SERVER,
    [
      "-m",
      options.modelPath,
      "-t",
      String(options.threads),
      "-tb",
      String(options.threads),
      "-np",
      String(options.parallel),
      "-c",
      String(options.contextSize * options.parallel),
      "-ngl",
      "0",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      ...(options.args ?? []),
    ],
    { stdio: "ignore" },
  );
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const readyMs = performance.now() - started;
  return {
    url,
    readyMs,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
