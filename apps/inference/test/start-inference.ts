import { fileURLToPath } from "node:url";
import { jsonLine, startService, type RunningService } from "@slm/testkit";

const appDir = fileURLToPath(new URL("..", import.meta.url));

export interface StartedInference {
  service: RunningService<Record<string, unknown>>;
  url: string;
}

/** Starts apps/inference as users do (`node --import tsx src/main.ts`), on a free port, and waits for "ready". */
export async function startInference(env: Record<string, string>, timeoutMs = 60_000): Promise<StartedInference> {
  const service = await startService<Record<string, unknown>>({
    command: ["node", "--import", "tsx", "src/main.ts"],
    cwd: appDir,
    env: { INFERENCE_PORT: "0", LOG_LEVEL: "info", ...env },
    readyWhen: (line) => {
      const json = jsonLine(line);
      return json?.msg === "ready" ? json : undefined;
    },
    timeoutMs,
  });
  const listening = service.lines.map(jsonLine).find((j) => j?.msg === "inference listening");
  return { service, url: `http://127.0.0.1:${String(listening?.port)}` };
}

/** Runs inference expecting it to fail at startup; returns the exit code and everything it printed. */
export async function failInference(
  env: Record<string, string>,
): Promise<{ code: number | string; lines: readonly string[]; ms: number }> {
  const started = Date.now();
  const service = await startService({
    command: ["node", "--import", "tsx", "src/main.ts"],
    cwd: appDir,
    env: { INFERENCE_PORT: "0", ...env },
  });
  const code = await service.exited;
  await new Promise((r) => setTimeout(r, 50)); // let the last lines drain
  return { code, lines: service.lines, ms: Date.now() - started };
}
