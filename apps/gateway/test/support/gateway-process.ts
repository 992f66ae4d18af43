import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { jsonLine, startService, type RunningService, denoExecutable } from "@slm/testkit";

/**
 * The gateway as a real process, on Node (`node --import tsx src/runtime/node.ts`: one pid, so stopping it leaves no
 * orphan) or on Deno (the `deno` npm package's binary), started in an empty directory (no stray .env).
 */

export type Runtime = "node" | "deno";

export interface GatewayProcess {
  url: string;
  service: RunningService<Record<string, unknown>>;
  /** Every line printed so far (stdout and stderr). */
  lines: string[];
  /** The JSON log lines so far. */
  logs(): Record<string, unknown>[];
  /** GET /metrics with the token every test gateway is started with (unless the test sets its own). */
  metrics(): Promise<Response>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const GATEWAY_DIR = fileURLToPath(new URL("../../", import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

function command(runtime: Runtime): [string, ...string[]] {
  if (runtime === "deno") {
    // As `pnpm start:deno` runs it.
    return [
      denoExecutable(import.meta.url),
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      join(GATEWAY_DIR, "src/runtime/deno.ts"),
    ];
  }
  return [process.execPath, "--import", TSX_LOADER, join(GATEWAY_DIR, "src/runtime/node.ts")];
}

export const METRICS_TOKEN = "metrics-token-for-tests-0123456789";

const started: GatewayProcess[] = [];
const dirs: string[] = [];

export async function startGateway(env: Record<string, string>, runtime: Runtime = "node"): Promise<GatewayProcess> {
  const cwd = mkdtempSync(join(tmpdir(), "gateway-test-"));
  dirs.push(cwd);
  const service = await startService<Record<string, unknown>>({
    command: command(runtime),
    cwd: runtime === "deno" ? GATEWAY_DIR : cwd, // Deno resolves npm packages from the gateway's node_modules
    env: {
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_PORT: "0",
      LOG_LEVEL: "info",
      DENO_NO_UPDATE_CHECK: "1",
      GATEWAY_METRICS_TOKEN: METRICS_TOKEN,
      ...env,
    },
    readyWhen: (line) => {
      const json = jsonLine(line);
      return json?.["msg"] === "listening" ? json : undefined;
    },
    timeoutMs: 60_000,
  });
  const gateway: GatewayProcess = {
    url: `http://127.0.0.1:${String(service.ready["port"])}`,
    service,
    lines: service.lines,
    logs: () => service.lines.map(jsonLine).filter((l): l is Record<string, unknown> => l !== undefined),
    metrics: () =>
      fetch(`http://127.0.0.1:${String(service.ready["port"])}/metrics`, {
        headers: { authorization: `Bearer ${env["GATEWAY_METRICS_TOKEN"] ?? METRICS_TOKEN}` },
      }),
    stop: (signal) => service.stop(signal),
  };
  started.push(gateway);
  return gateway;
}

/** Stops every gateway started by this module (afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all(
    started.splice(0).map(async (g) => {
      const timer = setTimeout(() => g.service.child.kill("SIGKILL"), 5000);
      await g.stop();
      clearTimeout(timer);
    }),
  );
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}
