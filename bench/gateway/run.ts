import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { denoExecutable } from "@slm/testkit";

/**
 * Gateway overhead benchmark: POST of a small chat request to a stub upstream (stub-upstream.ts, node:http), called
 * directly and through the gateway (auth + rate limiting + token metering + validation on, logs on), side by side in
 * one run: for each concurrency, direct and gateway runs alternate `rounds` times and the medians are compared.
 * Load generator: wrk when installed (C, light on the CPU the processes share), else autocannon (npm).
 * Also reports each process's CPU time per request (from /proc), which contention on a shared machine distorts less
 * than latency does.
 *
 *   pnpm bench:gateway [--duration 5] [--rounds 3] [--tool wrk|autocannon] [--runtime node|deno] [--floor]
 *
 * `--floor` adds a third side: a bare Hono proxy with the same transport and nothing else, to show
 * what the framework and the extra hop cost before any of the gateway's work (apps/gateway/bench/bare-proxy.ts).
 */

const root = fileURLToPath(new URL("../../", import.meta.url));
const gatewayDir = join(root, "apps/gateway");
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const duration = Number(arg("duration", "5"));
const rounds = Number(arg("rounds", "3"));
const hasWrk = spawnSync("wrk", ["--version"]).error === undefined;
const tool = arg("tool", hasWrk ? "wrk" : "autocannon");
const runtime = arg("runtime", "node");
const withFloor = args.includes("--floor");
const KEY = "sk-bench-0123456789abcdefghijklmnop";
const BODY = JSON.stringify({
  model: "bench-model",
  messages: [{ role: "user", content: "Say hello" }],
  max_tokens: 16,
});

interface Started {
  child: ChildProcess;
  port: number;
}

function start(
  command: string,
  argv: string[],
  cwd: string,
  env: Record<string, string>,
  ready: (line: string) => number | undefined,
): Promise<Started> {
  const child = spawn(command, argv, {
    cwd,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start`)), 30_000);
    let started = false;
    const lines = createInterface({ input: child.stdout! });
    const onLine = (line: string) => {
      if (started) return;
      const port = ready(line);
      if (port !== undefined) {
        started = true;
        clearTimeout(timer);
        // From here on the access log is drained without being parsed (a pipe nobody drains blocks the writer).
        lines.close();
        child.stdout!.on("data", () => {}).resume();
        resolve({ child, port });
      }
    };
    lines.on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", (l) => process.stderr.write(`  [${command}] ${l}\n`));
    child.once("exit", (code) => reject(new Error(`${command} exited with ${code}`)));
  });
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

interface Result {
  rps: number;
  p50Us: number;
  p99Us: number;
  non2xx: number;
  requests: number;
}

const tmp = mkdtempSync(join(tmpdir(), "bench-gateway-"));
const lua = join(tmp, "post.lua");
writeFileSync(
  lua,
  `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${KEY}"\nwrk.body = '${BODY}'\n`,
);

function parseWrkTime(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const value = Number(m[1]);
  return m[2] === "us" ? value : m[2] === "ms" ? value * 1000 : value * 1e6;
}

/** Asynchronous, so that this process keeps draining the services' output pipes meanwhile. */
async function runWrk(url: string, connections: number): Promise<Result> {
  const threads = connections === 1 ? 1 : 2;
  const child = spawn("wrk", [`-t${threads}`, `-c${connections}`, `-d${duration}s`, "--latency", "-s", lua, url], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  await new Promise((resolve) => child.once("close", resolve));
  const grab = (re: RegExp) => re.exec(out)?.[1] ?? "";
  return {
    rps: Number(grab(/Requests\/sec:\s+([\d.]+)/)),
    p50Us: parseWrkTime(grab(/\s50%\s+(\S+)/)),
    p99Us: parseWrkTime(grab(/\s99%\s+(\S+)/)),
    non2xx: Number(grab(/Non-2xx or 3xx responses:\s+(\d+)/) || 0),
    requests: Number(grab(/(\d+) requests in/)),
  };
}

async function runAutocannon(url: string, connections: number): Promise<Result> {
  const require = createRequire(join(gatewayDir, "package.json"));
  const autocannon = require("autocannon") as (opts: object) => Promise<{
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
  }>;
  const r = await autocannon({
    url,
    method: "POST",
    connections,
    duration,
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: BODY,
  });
  return {
    rps: r.requests.average,
    p50Us: r.latency.p50 * 1000,
    p99Us: r.latency.p99 * 1000,
    non2xx: r.non2xx,
    requests: r.requests.total,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const stub = await start(
    process.execPath,
    ["--import", "tsx", join(root, "bench/gateway/stub-upstream.ts"), "0"],
    root,
    {},
    (line) => {
      const m = /^listening (\d+)$/.exec(line);
      return m ? Number(m[1]) : undefined;
    },
  );
  const gatewayEnv = {
    INFERENCE_URL: `http://127.0.0.1:${stub.port}`,
    GATEWAY_PORT: "0",
    GATEWAY_API_KEYS: KEY,
    // Rate limiting and token metering on, with quotas the benchmark cannot exhaust.
    GATEWAY_REQUESTS_PER_MINUTE: "1000000000",
    GATEWAY_TOKENS_PER_MINUTE: "1000000000000",
    LOG_LEVEL: "info",
  };
  const gatewayCommand =
    runtime === "deno"
      ? ([
          denoExecutable(join(gatewayDir, "package.json")),
          ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "src/runtime/deno.ts"],
        ] as const)
      : ([process.execPath, ["--import", "tsx", "src/runtime/node.ts"]] as const);
  const gateway = await start(gatewayCommand[0], [...gatewayCommand[1]], gatewayDir, gatewayEnv, (line) => {
    if (!line.startsWith("{")) return undefined;
    const json = JSON.parse(line) as { msg?: string; port?: number };
    return json.msg === "listening" ? json.port : undefined;
  });

  const floor = withFloor
    ? await start(
        process.execPath,
        ["--import", "tsx", join(gatewayDir, "bench/bare-proxy.ts"), `http://127.0.0.1:${stub.port}`],
        gatewayDir,
        {},
        (line) => {
          const m = /^listening (\d+)$/.exec(line);
          return m ? Number(m[1]) : undefined;
        },
      )
    : undefined;
  const direct = `http://127.0.0.1:${stub.port}/v1/chat/completions`;
  const through = `http://127.0.0.1:${gateway.port}/v1/chat/completions`;
  const run = tool === "wrk" ? runWrk : runAutocannon;
  console.log(
    `gateway bench: ${tool}, ${runtime}, ${duration}s x ${rounds} rounds per side, body ${BODY.length} bytes`,
  );
  await run(through, 8); // warm-up (JIT, connection pools, model list cache)

  const rows: string[] = [];
  for (const connections of [1, 64]) {
    const d: Result[] = [];
    const g: Result[] = [];
    const f: Result[] = [];
    let floorCpu = 0;
    let stubCpu = 0;
    let gwCpu = 0;
    let stubCpuDirect = 0;
    for (let round = 0; round < rounds; round++) {
      let s0 = cpuMs(stub.child.pid!);
      d.push(await run(direct, connections));
      stubCpuDirect += cpuMs(stub.child.pid!) - s0;
      s0 = cpuMs(stub.child.pid!);
      const g0 = cpuMs(gateway.child.pid!);
      g.push(await run(through, connections));
      stubCpu += cpuMs(stub.child.pid!) - s0;
      gwCpu += cpuMs(gateway.child.pid!) - g0;
      if (floor) {
        const f0 = cpuMs(floor.child.pid!);
        f.push(await run(`http://127.0.0.1:${floor.port}/v1/chat/completions`, connections));
        floorCpu += cpuMs(floor.child.pid!) - f0;
      }
    }
    const dReq = d.reduce((a, r) => a + r.requests, 0) || 1;
    const gReq = g.reduce((a, r) => a + r.requests, 0) || 1;
    const dp50 = median(d.map((r) => r.p50Us));
    const gp50 = median(g.map((r) => r.p50Us));
    const dp99 = median(d.map((r) => r.p99Us));
    const gp99 = median(g.map((r) => r.p99Us));
    const drps = median(d.map((r) => r.rps));
    const grps = median(g.map((r) => r.rps));
    rows.push(
      `c=${String(connections).padEnd(3)} direct  p50 ${(dp50 / 1000).toFixed(3)} ms  p99 ${(dp99 / 1000).toFixed(3)} ms  ${drps.toFixed(0).padStart(6)} req/s   stub CPU ${((stubCpuDirect * 1000) / dReq).toFixed(1)} us/req`,
      `      gateway p50 ${(gp50 / 1000).toFixed(3)} ms  p99 ${(gp99 / 1000).toFixed(3)} ms  ${grps.toFixed(0).padStart(6)} req/s   gateway CPU ${((gwCpu * 1000) / gReq).toFixed(1)} us/req, stub ${((stubCpu * 1000) / gReq).toFixed(1)}  non-2xx ${g.reduce((a, r) => a + r.non2xx, 0)}`,
      ...(f.length > 0
        ? [
            `      floor   p50 ${(median(f.map((r) => r.p50Us)) / 1000).toFixed(3)} ms  p99 ${(median(f.map((r) => r.p99Us)) / 1000).toFixed(3)} ms  ${median(
              f.map((r) => r.rps),
            )
              .toFixed(0)
              .padStart(
                6,
              )} req/s   bare proxy CPU ${((floorCpu * 1000) / (f.reduce((a, r) => a + r.requests, 0) || 1)).toFixed(1)} us/req (ratio ${(median(f.map((r) => r.rps)) / drps).toFixed(2)})`,
          ]
        : []),
      `      overhead p50 +${((gp50 - dp50) / 1000).toFixed(3)} ms, p99 +${((gp99 - dp99) / 1000).toFixed(3)} ms; throughput ratio ${(grps / drps).toFixed(2)}` +
        (connections === 1 ? `  (target: < 0.25 ms p50)` : `  (target: >= 0.40)`),
    );
  }
  console.log(rows.join("\n"));
  // The gateway first (it may still be draining requests wrk gave up on), then the stub.
  gateway.child.kill("SIGTERM");
  await new Promise((resolve) => gateway.child.once("exit", resolve));
  floor?.child.kill("SIGTERM");
  stub.child.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
