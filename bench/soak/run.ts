/**
 * `pnpm soak [--streams 8] [--minutes 10] [--seed 1] [--noisy 68] [--cuts 1000]`: N clients for M minutes through the gateway and
 * inference, with random disconnects, inference restarted mid-stream and Redis restarted, everything on loopback (its
 * own fake Hub, its own redis-server on a free port). Then the noisy-key scenario (`--noisy`: the heavy key's
 * concurrent requests, 0 to skip): one key floods with n: 2 JSON requests while another sends small ones, alone first
 * and then under the flood. Then the chaos scenario (`--cuts`: how many, 0 to skip): clients that vanish at any moment,
 * each request (streams and JSON, long and short, bad keys, bodies that never finish) cut at a random moment between
 * 0 and 300 ms while the model list is refreshed every 200 ms, then what the gateway and inference still hold. It
 * ends by checking that nothing leaked: no open stream in the gateway, no busy slot or
 * queued request in inference, no lease left in Redis, no client request still pending, and the gateway's memory flat
 * over the second half. A bench script, not a test: it prints what it measured (the light key's latency alone and
 * under the flood, the heavy key's 429s), and exits 1 when a check fails.
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
import {
  cutMoment,
  cutRequest,
  freePort,
  generateTinyLlama,
  jsonLine,
  pickKind,
  promMetric,
  runBounded,
  startFakeHub,
  startService,
  type CutOutcome,
  type RunningService,
} from "@slm/testkit";

const { values } = parseArgs({
  options: {
    streams: { type: "string", default: "8" },
    minutes: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
    noisy: { type: "string", default: "68" },
    cuts: { type: "string", default: "1000" },
  },
});
const streams = Number(values.streams);
const durationMs = Number(values.minutes) * 60_000;
let seed = Number(values.seed) >>> 0 || 1;
const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const KEY = `sk-soak-${randomBytes(12).toString("hex")}`;
const HEAVY_KEY = `sk-soak-heavy-${randomBytes(12).toString("hex")}`;
const LIGHT_KEY = `sk-soak-light-${randomBytes(12).toString("hex")}`;
const CHAOS_KEY = `sk-soak-chaos-${randomBytes(12).toString("hex")}`;
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
    GATEWAY_API_KEYS: [KEY, HEAVY_KEY, LIGHT_KEY, CHAOS_KEY].join(","),
    GATEWAY_CONCURRENT_STREAMS: String(Math.max(1, streams - 2)),
    GATEWAY_KEY_MAX_INFLIGHT: String(Math.max(8, streams)),
    // Every client of the soak is on loopback, one address: the per-address cap would refuse keys for each other.
    GATEWAY_MAX_CONNECTIONS_PER_IP: "0",
    GATEWAY_REQUESTS_PER_MINUTE: "0",
    GATEWAY_TOKENS_PER_MINUTE: "100000000",
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    GATEWAY_REDIS_PREFIX: PREFIX,
    GATEWAY_METRICS_TOKEN: INTERNAL,
    GATEWAY_HEALTH_INTERVAL_MS: "500",
    GATEWAY_MODELS_TTL_MS: "200", // refreshed often: the chaos scenario's cuts land on refreshes too
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
const noisyKey = Number(values.noisy) > 0 ? await noisyKeyScenario(Number(values.noisy)) : undefined;
const chaosCuts = Number(values.cuts) > 0 ? await chaosScenario(Number(values.cuts)) : undefined;
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
for (const name of ["gateway_upstream_in_flight", 'gateway_leases_held{lease="streams"}'])
  if (metric(gatewayMetrics, name) !== 0) problems.push(`${name} is ${metric(gatewayMetrics, name)}`);
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
if (leases !== 0) problems.push(`${leases} leases (streams, requests in flight) left in Redis`);
if (chaosCuts && Object.values(chaosCuts.heldAfterwards).some((n) => n !== 0))
  problems.push(`the chaos scenario's cut requests left something held: ${JSON.stringify(chaosCuts.heldAfterwards)}`);
if (noisyKey && noisyKey.light.underFlood.refused > 0)
  problems.push(`the light key was refused ${noisyKey.light.underFlood.refused} times under the heavy key's flood`);
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
      noisyKey,
      chaos: chaosCuts,
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

/**
 * The chaos scenario: `cuts` requests of the chaos key, 12 at a time, each cut at a random moment between 0 and 300 ms
 * (most within the first milliseconds, where the gateway awaits Redis and its model list; a quarter counted from the
 * response's head, so mid-stream). Then waits until nothing is held any more (at most 30 s) and reports what still was:
 * open streams, requests in flight to inference and stream leases (the gateway's gauges), leases in Redis, busy slots
 * and queued requests in inference.
 */
async function chaosScenario(cuts: number) {
  const started = performance.now();
  const outcomes: CutOutcome[] = await runBounded(
    Array.from({ length: cuts }, (_, i) => async () => {
      pending++;
      try {
        return await cutRequest(
          Number(gateway.ready["port"]),
          {
            id: `chaos-${i}`,
            kind: pickKind(random),
            key: CHAOS_KEY,
            cutAfterMs: cutMoment(random, 300),
            afterHead: random() < 0.25,
          },
          { slow: { maxTokens: 400 }, fast: { maxTokens: 4 } },
        );
      } finally {
        pending--;
      }
    }),
    12,
  );
  const statuses: Record<string, number> = {};
  for (const { status } of outcomes) {
    const label = status === null ? "cut before the response" : String(status);
    statuses[label] = (statuses[label] ?? 0) + 1;
  }
  const seconds = Math.round(performance.now() - started) / 1000;
  const held = async () => {
    const auth = { headers: { authorization: `Bearer ${INTERNAL}` } };
    const g = await (await fetch(`${gatewayUrl}/metrics`, auth)).text();
    const i = await (await fetch(`http://127.0.0.1:${inferencePort}/metrics`, auth)).text();
    const check = new Redis(redisPort, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
    await check.connect();
    let redisLeases = 0;
    for (const key of await check.keys(`${PREFIX}:lease:*`)) redisLeases += await check.zcount(key, Date.now(), "+inf");
    check.disconnect();
    return {
      openStreams: promMetric(g, "gateway_open_streams"),
      inFlight: promMetric(g, "gateway_upstream_in_flight"),
      streamLeases: promMetric(g, 'gateway_leases_held{lease="streams"}'),
      redisLeases,
      busySlots: promMetric(i, "inference_busy_slots"),
      queued: promMetric(i, "inference_queue_depth"),
    };
  };
  const quietBy = Date.now() + 30_000;
  let heldAfterwards = await held();
  while (Object.values(heldAfterwards).some((n) => n !== 0) && Date.now() < quietBy) {
    await sleep(250);
    heldAfterwards = await held();
  }
  // How long after the last cut nothing was held any more (30 s: something still was).
  const quietAfterSeconds = Math.round(performance.now() - started) / 1000 - seconds;
  return { cuts, seconds, statuses, heldAfterwards, quietAfterSeconds: Math.round(quietAfterSeconds * 1000) / 1000 };
}

/**
 * The noisy-key scenario: the light key's small requests, one at a time, alone and then while `flood` workers of the
 * heavy key each keep one JSON request (n: 2, max_tokens 4096) in flight (a 429 waits its Retry-After). Bounded: the
 * flood ends when the light key has sent its requests (or after 3 minutes). Only the heavy key is to be refused.
 */
async function noisyKeyScenario(flood: number) {
  const LIGHT_REQUESTS = 10;
  const post = async (key: string, body: object, signal?: AbortSignal) => {
    const started = performance.now();
    pending++;
    try {
      const response = await fetch(`${gatewayUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal,
      });
      const text = await response.text();
      let code: string | undefined;
      if (response.status !== 200) code = /"code":\s*"([\w.-]+)"/.exec(text)?.[1] ?? `http ${response.status}`;
      return {
        status: response.status,
        code,
        retryAfter: Number(response.headers.get("retry-after") ?? 1),
        ms: performance.now() - started,
      };
    } finally {
      pending--;
    }
  };
  const light = async () => {
    const results = [];
    for (let i = 0; i < LIGHT_REQUESTS; i++)
      results.push(await post(LIGHT_KEY, { messages: [{ role: "user", content: "hi" }], max_tokens: 2 }));
    const ms = results
      .filter((r) => r.status === 200)
      .map((r) => r.ms)
      .sort((a, b) => a - b);
    return {
      ok: ms.length,
      refused: results.filter((r) => r.status === 429).length,
      failed: results.filter((r) => r.status !== 200 && r.status !== 429).length,
      codes: [...new Set(results.flatMap((r) => (r.code ? [r.code] : [])))],
      medianMs: Math.round(ms[Math.floor(ms.length / 2)] ?? NaN),
      maxMs: Math.round(ms.at(-1) ?? NaN),
    };
  };

  const alone = await light();
  const stop = new AbortController();
  const limit = setTimeout(() => stop.abort(), 180_000);
  const heavy = { ok: 0, refused: 0, other: 0, codes: {} as Record<string, number> };
  const worker = async () => {
    while (!stop.signal.aborted) {
      const body = { messages: [{ role: "user", content: "tell me a long story" }], n: 2, max_tokens: 4096 };
      const result = await post(HEAVY_KEY, body, stop.signal).catch(() => undefined);
      if (result === undefined) break;
      if (result.status === 200) heavy.ok++;
      else if (result.status === 429) heavy.refused++;
      else heavy.other++;
      if (result.code) heavy.codes[result.code] = (heavy.codes[result.code] ?? 0) + 1;
      if (result.status === 429) await sleep(Math.max(1, result.retryAfter) * 1000);
    }
  };
  const workers = Array.from({ length: flood }, worker);
  await sleep(1000); // the flood is up: the key's cap is full, the rest refused
  const underFlood = await light();
  stop.abort();
  clearTimeout(limit);
  await Promise.all(workers);
  const report = { heavy: { concurrent: flood, ...heavy }, light: { alone, underFlood } };
  console.log(`noisy key: ${JSON.stringify(report)}`);
  return report;
}

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
