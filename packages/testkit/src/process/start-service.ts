import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

export interface StartServiceOptions {
  /** Command and arguments, e.g. ["tsx", "src/main.ts"] (resolved from the cwd's node_modules/.bin via PATH). */
  command: readonly [string, ...string[]];
  cwd: string;
  env: Record<string, string | undefined>;
  /** Resolves the start once a stdout/stderr line satisfies it; the line's return value becomes `ready`. */
  readyWhen?: (line: string) => unknown;
  timeoutMs?: number;
}

export interface RunningService<R = unknown> {
  child: ChildProcess;
  /** Every line printed so far, stdout and stderr interleaved. */
  lines: string[];
  ready: R;
  /** Resolves with the exit code (or signal name) once the process ends. */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Starts a service as a real child process and waits until it says it is ready (or exits, or times out).
 * Used by end-to-end tests, `pnpm demo` and benchmarks, so all of them start the apps exactly as users do.
 */
export async function startService<R = unknown>(options: StartServiceOptions): Promise<RunningService<R>> {
  const [command, ...args] = options.command;
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  const ready = await new Promise<R>((resolve, reject) => {
    const timeout = setTimeout(() => {
      reject(
        new Error(`${command} not ready after ${options.timeoutMs ?? 60_000} ms:\n${lines.slice(-20).join("\n")}`),
      );
    }, options.timeoutMs ?? 60_000);
    const onLine = (line: string) => {
      lines.push(line);
      if (!options.readyWhen) return;
      const value = options.readyWhen(line);
      if (value !== undefined && value !== false && value !== null) {
        clearTimeout(timeout);
        resolve(value as R);
      }
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
    if (!options.readyWhen) {
      clearTimeout(timeout);
      resolve(undefined as R);
    }
    void exited.then((code) => {
      clearTimeout(timeout);
      reject(new ServiceExitedError(code, lines));
    });
  }).catch(async (error: unknown) => {
    if (!(error instanceof ServiceExitedError)) child.kill("SIGKILL");
    throw error;
  });
  return {
    child,
    lines,
    ready,
    exited,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export class ServiceExitedError extends Error {
  override readonly name = "ServiceExitedError";
  constructor(
    readonly exitCode: number | string,
    readonly lines: readonly string[],
  ) {
    super(`process exited (${exitCode}) before it was ready:\n${lines.slice(-20).join("\n")}`);
  }
}

/** Parses a JSON log line, or undefined for anything else. */
export function jsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
