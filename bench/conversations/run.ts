/**
 * `pnpm bench:conversations`: the chat product's real workload, side by side on llama-server and our stack.
 *
 * U users (default 4), each in a T-turn conversation (default 6): a shared ~400-token system prompt, a ~80-token user
 * message per turn (distinct per user and turn), greedy 24-token replies; each user sends the next turn (history +
 * reply + new message) as soon as its last reply ended, all users at once; S slots (default 2), 1 generation thread,
 * the Qwen2.5-0.5B-shaped Q4_K_M (bench/inference/qwen-model.ts). Engines, one after the other, each started fresh:
 * llama-server (`-np S`), ours (inference, PARALLEL=S), the gateway in front of one inference of S slots, and the
 * gateway in front of R inference replicas of 1 slot each (see servers.ts). Streaming requests with
 * `stream_options.include_usage`; TTFT is the first content delta.
 *
 *   pnpm bench:conversations [--users 4] [--turns 6] [--slots 2] [--replicas 2] [--threads 1] [--max-tokens 24]
 *                            [--engines llama-server,ours,gateway,gateway-replicas] [--rounds 1] [--context 2048]
 *                            [--cache-off] [--compare-cache] [--verbose]
 *
 * `--cache-off` runs our inference processes with PROMPT_CACHE_BYTES=0 (and llama-server with `--cache-ram 0` and
 * `cache_prompt: false`). `--compare-cache` runs every engine twice, cache on and off, and compares the greedy replies
 * of the two runs turn by turn (and ours direct against ours through the gateway).
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { startLlama } from "@slm/inference/engine";
import { llamaTools } from "../inference/llama-tools.ts";
import { qwen05bModel } from "../inference/qwen-model.ts";
import { benchModelFromFile } from "../inference/start-inference.ts";
import { streamChat } from "./chat-stream.ts";
import { CONVERSATION_ENGINES, type ConversationEngine, startTarget } from "./servers.ts";
import {
  compareReplies,
  DEFAULT_WORKLOAD,
  runWorkload,
  summarize,
  systemPrompt,
  userMessage,
  type WorkloadOptions,
  type WorkloadResult,
  type WorkloadSummary,
} from "./workload.ts";

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const flag = (name: string) => args.includes(`--${name}`);

const workload: WorkloadOptions = {
  ...DEFAULT_WORKLOAD,
  users: Number(arg("users", String(DEFAULT_WORKLOAD.users))),
  turns: Number(arg("turns", String(DEFAULT_WORKLOAD.turns))),
  maxTokens: Number(arg("max-tokens", String(DEFAULT_WORKLOAD.maxTokens))),
};
const slots = Number(arg("slots", "2"));
const replicas = Number(arg("replicas", "2"));
const threads = Number(arg("threads", "1"));
const rounds = Math.max(1, Number(arg("rounds", "1")));
const cacheOffOnly = flag("cache-off");
const compareCache = flag("compare-cache");
const verbose = flag("verbose");
const engines = arg("engines", CONVERSATION_ENGINES.join(",")).split(",").filter(Boolean) as ConversationEngine[];
for (const e of engines)
  if (!CONVERSATION_ENGINES.includes(e))
    throw new Error(`unknown engine ${e} (one of ${CONVERSATION_ENGINES.join(", ")})`);
// Enough for the last turn: system + T * (message + reply + template glue), with room to spare.
const contextSize = Number(
  arg("context", String(Math.max(1024, 2 ** Math.ceil(Math.log2(520 + workload.turns * (110 + workload.maxTokens)))))),
);

const tools = await llamaTools();
const modelPath = await qwen05bModel(tools);
const llama = await startLlama(1);
const build = llama.buildType === "localBuild" ? "our source build" : `node-llama-cpp's ${llama.buildType} binary`;
await llama.dispose();
const model = await benchModelFromFile(await readFile(modelPath));

interface Run {
  label: string;
  engine: ConversationEngine;
  cacheOff: boolean;
  results: WorkloadResult[];
  summaries: WorkloadSummary[];
  cpuMs: number[];
}
const runs: Run[] = [];
const variants = compareCache ? [false, true] : [cacheOffOnly];
for (const engine of engines)
  for (const cacheOff of variants)
    runs.push({
      label: `${labelOf(engine)}${cacheOff ? " (cache off)" : ""}`,
      engine,
      cacheOff,
      results: [],
      summaries: [],
      cpuMs: [],
    });

function labelOf(engine: ConversationEngine): string {
  switch (engine) {
    case "llama-server":
      return `llama-server -np ${slots}`;
    case "ours":
      return `ours PARALLEL=${slots}`;
    case "gateway":
      return `gateway -> 1 x ${slots} slots`;
    case "gateway-replicas":
      return `gateway -> ${replicas} x 1 slot`;
  }
}

function cpuMsOf(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      // gone
    }
  }
  return total;
}

console.log(
  `conversations: ${workload.users} users x ${workload.turns} turns, ${slots} slots, ${threads} thread(s), ` +
    `${workload.maxTokens}-token greedy replies, ${contextSize} tokens per slot; llama.cpp in ours: ${build}`,
);
let tokenCounts: string | undefined;
try {
  for (let round = 0; round < rounds; round++) {
    // The order rotates each round, so a noisy neighbour hits every engine alike.
    const order = runs.map((_, i) => runs[(i + round) % runs.length]!);
    for (const run of order) {
      const target = await startTarget(run.engine, {
        modelPath,
        model,
        llamaServer: tools.server,
        threads,
        slots,
        replicas,
        contextSize,
        cacheOff: run.cacheOff,
      });
      try {
        if (!tokenCounts && run.engine !== "gateway" && run.engine !== "gateway-replicas")
          tokenCounts = await countTokens(target.url);
        // A short warm-up (another system prompt: nothing of it is reused by the workload).
        await streamChat({ ...target, messages: [{ role: "user", content: "Hello" }], maxTokens: 2 });
        const cpu = cpuMsOf(target.pids);
        const result = await runWorkload(target, workload, (t) => {
          if (verbose)
            console.log(
              `  ${run.label}: user ${t.user + 1} turn ${t.turn + 1}: TTFT ${t.firstContentMs.toFixed(0)} ms, ` +
                `${t.promptTokens} prompt tokens, ${t.cachedTokens} cached, ${t.completionTokens} generated`,
            );
        });
        run.cpuMs.push(cpuMsOf(target.pids) - cpu);
        run.results.push(result);
        const summary = summarize(result, workload);
        run.summaries.push(summary);
        console.log(
          `${run.label}: wall ${(summary.wallMs / 1000).toFixed(1)} s, TTFT mean ${summary.ttftMeanMs.toFixed(0)} ms, ` +
            `cached ${summary.cachedHistoryTokens}/${summary.perfectHistoryTokens} history tokens`,
        );
      } catch (error) {
        // One engine failing (a server gone mid-stream) is reported; the others still run.
        const exited = target.inference.map((i) => i.service.child.exitCode).filter((c) => c !== null);
        console.error(`${run.label}: failed: ${String(error)}${exited.length ? ` (inference exited: ${exited})` : ""}`);
        for (const i of target.inference) console.error(i.service.lines.slice(-5).join("\n"));
      } finally {
        await target.stop();
      }
    }
  }
} finally {
  await model.close();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const pick = (run: Run, key: (s: WorkloadSummary) => number) => median(run.summaries.map(key));
const reference =
  runs.find((r) => r.engine === "llama-server" && !r.cacheOff) ?? runs.find((r) => r.engine === "llama-server");
const ratio = (run: Run, key: (s: WorkloadSummary) => number) =>
  reference ? (pick(run, key) / pick(reference, key)).toFixed(2) : "-";
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "-");

const lines = [
  "",
  `${workload.users} users x ${workload.turns} turns, ${slots} slots, ${threads} thread(s), ${workload.maxTokens}-token greedy replies; ` +
    `${rounds} round(s), medians; ratios vs ${reference?.label ?? "(no llama-server run)"}`,
  ...(tokenCounts ? [tokenCounts] : []),
  "",
  "| engine | wall s | vs ls | TTFT mean ms | vs ls | TTFT turns 3+ ms | vs ls | TTFT per turn ms | prompt tokens | cached tokens (all) | history cached / perfect | share | 1st-turn cached | CPU s | replies < max |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
];
for (const run of runs.filter((r) => r.summaries.length > 0)) {
  const s = run.summaries[Math.floor(run.summaries.length / 2)]!;
  const perTurn = workload.turns > 0 ? s.ttftPerTurnMs.map(ms).join(" / ") : "-";
  lines.push(
    `| ${[
      run.label,
      (pick(run, (x) => x.wallMs) / 1000).toFixed(1),
      ratio(run, (x) => x.wallMs),
      ms(pick(run, (x) => x.ttftMeanMs)),
      ratio(run, (x) => x.ttftMeanMs),
      ms(pick(run, (x) => x.ttftLateMeanMs)),
      ratio(run, (x) => x.ttftLateMeanMs),
      perTurn,
      String(s.promptTokens),
      String(s.cachedTokens),
      `${s.cachedHistoryTokens} / ${s.perfectHistoryTokens}`,
      `${((s.cachedHistoryTokens / s.perfectHistoryTokens) * 100).toFixed(0)} %`,
      String(s.cachedFirstTurnTokens),
      (median(run.cpuMs) / 1000).toFixed(1),
      String(s.shortReplies),
    ].join(" | ")} |`,
  );
}
lines.push(
  "",
  "perfect: what a per-conversation cache would hold at turns 2+ (the previous turn's prompt and reply tokens); " +
    "1st-turn cached: the shared system prompt found cached on a first turn. CPU: every process of the engine.",
);

// Greedy replies compared: cache on vs off (same engine), and ours direct vs through the gateway.
const comparisons: Array<[Run, Run]> = [];
for (const engine of engines) {
  const on = runs.find((r) => r.engine === engine && !r.cacheOff);
  const off = runs.find((r) => r.engine === engine && r.cacheOff);
  if (on?.results.length && off?.results.length) comparisons.push([on, off]);
}
const direct = runs.find((r) => r.engine === "ours" && !r.cacheOff);
for (const other of runs.filter((r) => (r.engine === "gateway" || r.engine === "gateway-replicas") && !r.cacheOff))
  if (direct?.results.length && other.results.length) comparisons.push([direct, other]);
if (comparisons.length > 0) {
  lines.push("", "| replies of | vs | identical turns | first differing turn per user |", "|---|---|---|---|");
  for (const [a, b] of comparisons) {
    const c = compareReplies(a.results[0]!, b.results[0]!);
    lines.push(
      `| ${a.label} | ${b.label} | ${c.identical} / ${c.total} | ${c.firstDifference.map((t) => (t === undefined ? "-" : String(t + 1))).join(", ")} |`,
    );
  }
}
console.log(lines.join("\n"));
process.exit(0);

/** Token counts of the system prompt and a user message, from the server's /tokenize (both servers have it). */
async function countTokens(url: string): Promise<string> {
  const count = async (content: string) => {
    const response = await fetch(`${url}/tokenize`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content }),
    });
    return ((await response.json()) as { tokens: unknown[] }).tokens.length;
  };
  const messages = [];
  for (let user = 0; user < workload.users; user++)
    for (let turn = 0; turn < workload.turns; turn++) messages.push(await count(userMessage(workload, user, turn)));
  return (
    `system prompt ${await count(systemPrompt(workload))} tokens; user messages ` +
    `${Math.min(...messages)}-${Math.max(...messages)} tokens`
  );
}
