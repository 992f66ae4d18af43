/**
 * The fixed cost of a request: time to first token of short prompts, one request at a time, on llama-server and on
 * our inference over HTTP (same GGUF: the Qwen2.5-0.5B-shaped Q4_K_M; same slots and threads), alternating, and where
 * ours goes, stage by stage. Our process runs with trace-preload.mjs (a benchmark-only preload that timestamps
 * node-llama-cpp's calls and the HTTP request; no change to the service), llama-server reports its own prompt time.
 *
 *   npx tsx bench/conversations/short-prompt.ts [--rounds 8] [--slots 4] [--threads 1] [--max-tokens 2]
 *                                               [--cases completion,chat,chat-long,completion-same,chat-same] [--no-trace] [--verbose]
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { startLlamaServer } from "@slm/testkit";
import { llamaTools } from "../inference/llama-tools.ts";
import { qwen05bModel } from "../inference/qwen-model.ts";
import { benchModelFromFile, startInference } from "../inference/start-inference.ts";
import { streamChat } from "./chat-stream.ts";
import { systemPrompt, DEFAULT_WORKLOAD } from "./workload.ts";

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const rounds = Number(arg("rounds", "8"));
const slots = Number(arg("slots", "4"));
const threads = Number(arg("threads", "1"));
const maxTokens = Number(arg("max-tokens", "2"));
const cases = arg("cases", "completion,chat,chat-long,completion-same,chat-same").split(",");
const trace = !args.includes("--no-trace");
const verbose = args.includes("--verbose");

/** `-same`: the same prompt every time (all but its last token reusable by both servers). */
type Case = "completion" | "chat" | "chat-long" | "completion-same" | "chat-same";
const WORDS = "little robot who wanted to learn how to paint the sea".split(" ");
/** A fresh prompt each time (its first words differ), so nothing is reused but what every request shares. */
function completionPrompt(i: number): string {
  return `Story ${i}: once upon a time there was a ${WORDS.join(" ")}`;
}
function chatMessages(kind: Case, i: number) {
  if (kind === "chat-long")
    return [
      { role: "system" as const, content: `Case ${i}. ${systemPrompt({ ...DEFAULT_WORKLOAD, systemWords: 330 })}` },
      { role: "user" as const, content: "Hello" },
    ];
  return [{ role: "user" as const, content: `Question ${i}: tell me a story about a ${WORDS.join(" ")}.` }];
}

interface Sample {
  ttftMs: number;
  /** CPU time of the server process (every thread) over the whole request. */
  cpuMs?: number;
  promptTokens: number;
  cachedTokens: number;
  /** llama-server: its prompt evaluation (timings.prompt_ms). */
  promptMs?: number;
  /** ours: the stages (see `stages`). */
  stages?: Record<string, number>;
}

async function completion(url: string, prompt: string): Promise<Sample> {
  const sent = performance.now();
  const response = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      prompt,
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (response.status !== 200 || !response.body) throw new Error(`HTTP ${response.status}`);
  const decoder = new TextDecoder();
  let buffer = "";
  let first = 0;
  const sample: Sample = { ttftMs: Number.NaN, promptTokens: Number.NaN, cachedTokens: 0 };
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const data = buffer.slice(0, end).replace(/^data: /, "");
      buffer = buffer.slice(end + 2);
      if (!data || data === "[DONE]") continue;
      const chunk = JSON.parse(data) as {
        choices?: Array<{ text?: string }>;
        usage?: { prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } } | null;
        timings?: { prompt_ms?: number; cache_n?: number };
      };
      if (chunk.choices?.[0]?.text && first === 0) first = performance.now();
      if (chunk.usage) {
        sample.promptTokens = chunk.usage.prompt_tokens ?? Number.NaN;
        sample.cachedTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? sample.cachedTokens;
      }
      if (chunk.timings?.prompt_ms !== undefined) sample.promptMs = chunk.timings.prompt_ms;
    }
  }
  sample.ttftMs = first - sent;
  return sample;
}

/** Chat, through the same client as the conversation benchmark; llama-server's prompt time from a second look. */
async function chat(url: string, kind: Case, i: number): Promise<Sample> {
  let promptMs: number | undefined;
  const turn = await streamChat({
    url,
    messages: chatMessages(kind, i),
    maxTokens,
    extra: {},
    onChunk: (chunk) => {
      const t = (chunk as { timings?: { prompt_ms?: number } }).timings?.prompt_ms;
      if (t !== undefined) promptMs = t;
    },
  });
  return {
    ttftMs: turn.firstContentMs,
    promptTokens: turn.promptTokens,
    cachedTokens: turn.cachedTokens,
    ...(promptMs !== undefined ? { promptMs } : {}),
  };
}

/**
 * Our request's stages from its trace (ms from the request's arrival at node:http), one request at a time:
 *  - parse+render: arrival -> first tokenize (body read, validation, routing, chat template)
 *  - tokenize: the tokenize calls before the slot is chosen
 *  - prepare: last tokenize -> slot choice (sampler settings, stops, grammar lookup)
 *  - slot+KV: slot choice -> KV state adapted (prefix kept, the rest of the sequence removed)
 *  - schedule: KV adapted -> node-llama-cpp dispatches the batch (sampler created, locks, setImmediate)
 *  - queue->decode: dispatch -> decodeBatch called (batch built, threads reserved)
 *  - decode: the prompt's decodeBatch (llama.cpp on a libuv worker, and back)
 *  - decode->sample, sample: to the sampleToken call, and that call
 *  - to write: sampled -> first response write after it (our loop, detokenize, SSE chunk)
 */
function stages(marks: Record<string, number>): Record<string, number> {
  const keys = Object.keys(marks);
  const at = (name: string) => marks[name] ?? Number.NaN;
  const beforeSlot = keys.filter((k) => k.startsWith("tokenize:") && at(k) <= at("compareContextTokens:start"));
  const firstTokenize = beforeSlot.length > 0 ? Math.min(...beforeSlot.map(at)) : Number.NaN;
  const lastTokenize = beforeSlot.length > 0 ? Math.max(...beforeSlot.map(at)) : Number.NaN;
  const sampled = at("sampleToken:end");
  const write = Math.min(
    ...keys.filter((k) => k.startsWith("write") && at(k) >= sampled).map(at),
    Number.POSITIVE_INFINITY,
  );
  return {
    "parse+render": firstTokenize,
    tokenize: lastTokenize - firstTokenize,
    prepare: at("compareContextTokens:start") - lastTokenize,
    "slot+KV": at("adaptStateToTokens:end") - at("compareContextTokens:start"),
    schedule: at("dispatchPendingBatch") - at("adaptStateToTokens:end"),
    "queue->decode": at("decodeBatch:start") - at("dispatchPendingBatch"),
    decode: at("decodeBatch:end") - at("decodeBatch:start"),
    "decode->sample": at("sampleToken:start") - at("decodeBatch:end"),
    sample: sampled - at("sampleToken:start"),
    "to write": write - sampled,
    server: write,
  };
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!;
};

const tools = await llamaTools();
const modelPath = await qwen05bModel(tools);
const model = await benchModelFromFile(await readFile(modelPath));
const contextSize = 1024;
const server = await startLlamaServer({ binary: tools.server, modelPath, threads, parallel: slots, contextSize });
const preload = new URL("./trace-preload.mjs", import.meta.url).href;
const ours = await startInference({
  ...model.env,
  LLAMA_THREADS: String(threads),
  PARALLEL: String(slots),
  CONTEXT_SIZE: String(contextSize),
  MAX_QUEUE: "64",
  ...(trace ? { NODE_OPTIONS: `--import ${preload}` } : {}),
  ...(process.env["PROMPT_CACHE_BYTES"] ? { PROMPT_CACHE_BYTES: process.env["PROMPT_CACHE_BYTES"] } : {}),
});
console.log(`ours ready (${String(ours.ready["threads"])} threads); llama-server ready`);

/** utime + stime of a process, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function traceOf(before: number): Promise<Record<string, number> | undefined> {
  for (let i = 0; i < 100; i++) {
    const line = ours.service.lines.slice(before).find((l) => l.startsWith('{"trace"'));
    if (line) return (JSON.parse(line) as { trace: Record<string, number> }).trace;
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}

const results = new Map<string, Sample[]>();
let n = 0;
try {
  const run = async (engine: "llama-server" | "ours", kind: Case, i: number): Promise<Sample> => {
    const url = engine === "ours" ? ours.url : server.url;
    const before = ours.service.lines.length;
    const pid = engine === "ours" ? ours.service.child.pid : server.pid;
    const cpu = cpuMs(pid);
    const sample =
      kind === "completion" || kind === "completion-same"
        ? await completion(url, completionPrompt(kind === "completion" ? i : 0))
        : await chat(url, kind, kind === "chat-same" ? 0 : i);
    sample.cpuMs = cpuMs(pid) - cpu;
    if (engine === "ours" && trace) {
      const marks = await traceOf(before);
      if (marks) sample.stages = stages(marks);
    }
    return sample;
  };
  // Warm-up: one of each on both.
  for (const kind of cases as Case[]) {
    await run("llama-server", kind, ++n);
    await run("ours", kind, ++n);
  }
  for (let round = 0; round < rounds; round++) {
    for (const kind of cases as Case[]) {
      const order: Array<"llama-server" | "ours"> =
        round % 2 === 0 ? ["llama-server", "ours"] : ["ours", "llama-server"];
      for (const engine of order) {
        const sample = await run(engine, kind, ++n);
        if (verbose)
          console.log(
            `  ${kind} ${engine}: TTFT ${sample.ttftMs.toFixed(0)} ms, CPU ${sample.cpuMs} ms, ` +
              (engine === "ours"
                ? `decode ${sample.stages?.["decode"]?.toFixed(0)} ms`
                : `prompt_ms ${sample.promptMs?.toFixed(0)}`),
          );
        const key = `${kind}/${engine}`;
        results.set(key, [...(results.get(key) ?? []), sample]);
      }
    }
  }
} finally {
  await ours.service.stop();
  await server.stop();
  await model.close();
}

const lines = [
  "",
  `TTFT, one request at a time, ${slots} slots, ${threads} thread(s), max_tokens ${maxTokens}; medians of ${rounds} alternating rounds`,
  "",
  "| case | prompt tokens (cached) | llama-server TTFT ms | its prompt_ms | ours TTFT ms | ratio | ours min-max | llama-server min-max | CPU ms per request ls / ours | ratio |",
  "|---|---|---|---|---|---|---|---|---|---|",
];
for (const kind of cases) {
  const ls = results.get(`${kind}/llama-server`) ?? [];
  const us = results.get(`${kind}/ours`) ?? [];
  const lsT = median(ls.map((s) => s.ttftMs));
  const usT = median(us.map((s) => s.ttftMs));
  const lsC = median(ls.map((s) => s.cpuMs ?? Number.NaN));
  const usC = median(us.map((s) => s.cpuMs ?? Number.NaN));
  const range = (xs: Sample[]) =>
    `${Math.min(...xs.map((s) => s.ttftMs)).toFixed(0)}-${Math.max(...xs.map((s) => s.ttftMs)).toFixed(0)}`;
  lines.push(
    `| ${kind} | ${median(us.map((s) => s.promptTokens))} (${median(us.map((s) => s.cachedTokens))}) / ls ${median(ls.map((s) => s.promptTokens))} (${median(ls.map((s) => s.cachedTokens))}) | ${lsT.toFixed(0)} | ${median(ls.map((s) => s.promptMs ?? Number.NaN)).toFixed(0)} | ${usT.toFixed(0)} | ${(usT / lsT).toFixed(2)} | ${range(us)} | ${range(ls)} | ${lsC.toFixed(0)} / ${usC.toFixed(0)} | ${(usC / lsC).toFixed(2)} |`,
  );
}
if (trace) {
  const names = Object.keys(results.get(`${cases[0]}/ours`)?.[0]?.stages ?? {});
  lines.push(
    "",
    `ours, stage medians (ms): | case | ${names.join(" | ")} |`,
    `|---|${names.map(() => "---").join("|")}|`,
  );
  for (const kind of cases) {
    const us = results.get(`${kind}/ours`) ?? [];
    lines.push(
      `| ${kind} | ${names.map((k) => median(us.map((s) => s.stages?.[k] ?? Number.NaN)).toFixed(1)).join(" | ")} |`,
    );
  }
}
console.log(lines.join("\n"));
process.exit(0);
