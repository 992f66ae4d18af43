/**
 * `pnpm soak [--streams 8] [--minutes 10] [--seed 1]`: N clients for M minutes through the gateway and inference, with
 * random disconnects, inference restarted mid-stream and Redis restarted, everything on loopback (its own fake Hub,
 * its own redis-server on a free port). It ends by checking that nothing leaked: no open stream in the gateway, no
 * busy slot or queued request in inference, no stream lease left in Redis, no client request still pending, and the
 * gateway's memory flat over the second half. A bench script, not a test: it prints what it measured, and exits 1
 * when a check fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { freePort, generateTinyLlama, jsonLine, startFakeHub, startService, type RunningService } from "@slm/testkit";

const { values } = parseArgs({
  options: {
    streams: { type: "string", default: "8" },
    minutes: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
  },
});
const streams = Number(values.streams);
const durationMs = Number(values.minutes) * 60_000;
let seed = Number(values.seed) >>> 0 || 1;
const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const KEY = `sk-soak-${randomBytes(12).toString("hex")}`;
const INTERNAL = `ik-soak-${randomBytes(12).toString("hex")}`;
const PREFIX = `slm-soak-${randomBytes(4).toString("hex")}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const [inferencePort, redisPort] = [await freePort(), await freePort()];
const cacheDir = await mkdtemp(join(tmpdir(), "soak-cache-"));
const hub = await startFakeHub();
const commit = hub.addRepo({ id: "soak/tiny", files: { "tiny.gguf": generateTinyLlama({ seed: 3, name: "tiny" }) } });

let redis = startRedis();
await sleep(300);
let inference = await startInference();
const gateway = await startService<Record<string, unknown>>({
  command: ["node", "--import", "tsx", "src/runtime/node.ts"],
  cwd: join(repoRoot, "apps/gateway"),
  env: {
    GATEWAY_PORT: "0",
    INFERENCE_URL: `http://127.0.0.1:${inferencePort}`,
    INFERENCE_API_KEY: INTERNAL,
    GATEWAY_API_KEYS: KEY,
    GATEWAY_CONCURRENT_STREAMS: String(Math.max(1, streams - 2)),
    GATEWAY_REQUESTS_PER_MINUTE: "0",
    GATEWAY_TOKENS_PER_MINUTE: "100000000",
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    GATEWAY_REDIS_PREFIX: PREFIX,
    GATEWAY_METRICS_TOKEN: INTERNAL,
    GATEWAY_HEALTH_INTERVAL_MS: "500",
    LOG_LEVEL: "info",
  },
  readyWhen: (line) => (jsonLine(line)?.msg === "listening" ? jsonLine(line) : undefined),
});
const gatewayUrl = `http://127.0.0.1:${String(gateway.ready["port"])}`;
console.log(
  `soak: ${streams} clients for ${values.minutes} min against ${gatewayUrl} (model commit ${commit.slice(0, 12)})`,
);

const counts: Record<string, number> = {};
const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
const rss: number[] = [];
let pending = 0;
const deadline = Date.now() + durationMs;

const chaos = (async () => {
  let next = { inference: Date.now() + 30_000, redis: Date.now() + 45_000 };
  while (Date.now() < deadline - 10_000) {
    await sleep(1000);
    rss.push(readRss(gateway.child.pid!));
    if (Date.now() > next.inference) {
      count("inference restarts");
      await inference.stop("SIGTERM");
      inference = await startInference();
      next = { ...next, inference: Date.now() + 30_000 + random() * 30_000 };
    }
    if (Date.now() > next.redis) {
      count("redis restarts");
      redis.kill("SIGKILL");
      await sleep(2000);
      redis = startRedis();
      next = { ...next, redis: Date.now() + 45_000 + random() * 30_000 };
    }
  }
})();

await Promise.all([chaos, ...Array.from({ length: streams }, (_, i) => client(i))]);
await sleep(3000); // leases of streams cut by the end release themselves; let the gateway see the last closes

const problems: string[] = [];
const gatewayMetrics = await (
  await fetch(`${gatewayUrl}/metrics`, { headers: { authorization: `Bearer ${INTERNAL}` } })
).text();
const inferenceMetrics = await (
  await fetch(`http://127.0.0.1:${inferencePort}/metrics`, { headers: { authorization: `Bearer ${INTERNAL}` } })
).text();
const metric = (text: string, name: string) =>
  Number(/^(\S+) (\S+)$/m.exec(text.split("\n").find((l) => l.startsWith(`${name} `)) ?? "")?.[2] ?? NaN);
if (metric(gatewayMetrics, "gateway_open_streams") !== 0)
  problems.push(`gateway_open_streams is ${metric(gatewayMetrics, "gateway_open_streams")}`);
if (metric(inferenceMetrics, "inference_busy_slots") !== 0)
  problems.push(`inference_busy_slots is ${metric(inferenceMetrics, "inference_busy_slots")}`);
if (metric(inferenceMetrics, "inference_queue_depth") !== 0)
  problems.push(`inference_queue_depth is ${metric(inferenceMetrics, "inference_queue_depth")}`);
if (pending !== 0) problems.push(`${pending} client requests never ended`);
const check = new Redis(redisPort, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
await check.connect();
let leases = 0;
for (const key of await check.keys(`${PREFIX}:lease:*`)) {
  await check.zremrangebyscore(key, "-inf", Date.now());
  leases += await check.zcard(key);
}
check.disconnect();
if (leases !== 0) problems.push(`${leases} stream leases left in Redis`);
const half = rss.slice(Math.floor(rss.length / 2));
const growth = half.length > 2 ? (half.at(-1)! - half[0]!) / half[0]! : 0;
if (growth > 0.25) problems.push(`gateway RSS grew ${(growth * 100).toFixed(0)}% over the second half`);

console.log(
  JSON.stringify(
    {
      streams,
      minutes: Number(values.minutes),
      outcomes: counts,
      gatewayRssMiB: { first: mib(rss[0]), peak: mib(Math.max(...rss)), last: mib(rss.at(-1)) },
      secondHalfGrowth: `${(growth * 100).toFixed(1)}%`,
      leasesLeft: leases,
      problems,
    },
    null,
    2,
  ),
);
await gateway.stop();
await inference.stop();
redis.kill("SIGKILL");
await hub.close();
await rm(cacheDir, { recursive: true, force: true });
process.exit(problems.length === 0 ? 0 : 1);

/** One client: streams, some cut after a few chunks, some JSON, until the deadline. */
async function client(id: number): Promise<void> {
  while (Date.now() < deadline) {
    const kind = random() < 0.3 ? "disconnect" : random() < 0.8 ? "stream" : "json";
    const abort = new AbortController();
    pending++;
    try {
      const response = await fetch(`${gatewayUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          messages: [{ role: "user", content: `client ${id}: tell me a story` }],
          max_tokens: 48,
          stream: kind !== "json",
        }),
        signal: abort.signal,
      });
      if (response.status !== 200) {
        count(`http ${response.status}`);
        await response.arrayBuffer().catch(() => undefined);
        await sleep(100);
        continue;
      }
      if (kind === "json") {
        await response.json();
        count("json ok");
        continue;
      }
      const reader = response.body!.getReader();
      const cutAfter = kind === "disconnect" ? 1 + Math.floor(random() * 6) : Infinity;
      let chunks = 0;
      let text = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        if (++chunks >= cutAfter) {
          abort.abort();
          break;
        }
      }
      count(
        kind === "disconnect"
          ? "disconnected"
          : text.includes("event: error")
            ? "stream ended by an error event"
            : text.includes("[DONE]")
              ? "stream ok"
              : "stream cut",
      );
    } catch {
      count(kind === "disconnect" ? "disconnected" : "network error");
    } finally {
      pending--;
    }
  }
}

function startInference(): Promise<RunningService<Record<string, unknown>>> {
  return startService<Record<string, unknown>>({
    command: ["node", "--import", "tsx", "src/main.ts"],
    cwd: join(repoRoot, "apps/inference"),
    env: {
      INFERENCE_PORT: String(inferencePort),
      HF_ENDPOINT: hub.url,
      MODEL_CACHE_DIR: cacheDir,
      MODEL_ID: "soak/tiny",
      MODEL_VERSION: commit,
      MODEL_FILE: "tiny.gguf",
      MODEL_LOCKFILE: "none",
      INFERENCE_API_KEY: INTERNAL,
      PARALLEL: "2",
      CONTEXT_SIZE: "512",
      SHUTDOWN_GRACE_MS: "500",
      LOG_LEVEL: "info",
    },
    readyWhen: (line) => (line.includes('"msg":"ready"') ? true : undefined),
    timeoutMs: 60_000,
  });
}

function startRedis(): ChildProcess {
  return spawn(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(redisPort), "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
}

function readRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.replace(/\D+/g, "") ?? 0) * 1024;
}

function mib(bytes: number | undefined): number {
  return Math.round(((bytes ?? 0) / 2 ** 20) * 10) / 10;
}
