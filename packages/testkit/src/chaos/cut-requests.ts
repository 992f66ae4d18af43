import { connect } from "node:net";

/**
 * Clients that vanish at any moment, for the gateway's chaos test and `pnpm soak`: raw HTTP/1.1 chat requests over
 * their own socket, destroyed at a chosen moment (while the gateway reads the body, awaits Redis, refreshes its model
 * list, or streams), with a seeded choice of kinds and moments, and a Prometheus reader for the leak checks that
 * follow. Loopback only, bounded by the caller.
 */

export type CutKind = "stream" | "json" | "fast-stream" | "fast-json" | "bad-key" | "slow-body";

export interface CutRequest {
  /** Sent as X-Request-Id, so that what inference received can be matched to it. */
  id: string;
  kind: CutKind;
  key: string;
  /** The socket is destroyed this long after it connected (or earlier, when the response ended first). */
  cutAfterMs: number;
  /** For a stream: count `cutAfterMs` from the response's head instead (a cut mid-stream). */
  afterHead?: boolean;
}

export interface CutOutcome {
  /** The response's status, when its head came before the cut. */
  status: number | null;
  /** The response ended before the cut. */
  complete: boolean;
}

/** Picks kinds in these proportions. */
export const CUT_MIX: ReadonlyArray<[CutKind, number]> = [
  ["stream", 0.3],
  ["json", 0.2],
  ["fast-stream", 0.15],
  ["fast-json", 0.1],
  ["bad-key", 0.1],
  ["slow-body", 0.15],
];

export function pickKind(random: () => number): CutKind {
  let r = random();
  for (const [kind, weight] of CUT_MIX) {
    if (r < weight) return kind;
    r -= weight;
  }
  return "stream";
}

/** What the long and the fast requests ask for: a model (absent: the gateway's default) and a token cap. */
export interface CutShapes {
  slow: { model?: string; maxTokens: number };
  fast: { model?: string; maxTokens: number };
}

/** The chat request of a kind: a long generation (the stub's "endless", a real model's long answer) or a fast one. */
export function requestBody(kind: CutKind, shapes: CutShapes): string {
  const shape = kind === "fast-stream" || kind === "fast-json" ? shapes.fast : shapes.slow;
  return JSON.stringify({
    ...(shape.model === undefined ? {} : { model: shape.model }),
    messages: [{ role: "user", content: "Tell me a long story about a lighthouse keeper." }],
    max_tokens: shape.maxTokens,
    stream: kind === "stream" || kind === "fast-stream" || kind === "slow-body",
  });
}

/** One request on its own connection, cut after `cutAfterMs` (unless its response ended first). */
export function cutRequest(port: number, request: CutRequest, shapes: CutShapes): Promise<CutOutcome> {
  const body = requestBody(request.kind, shapes);
  const key = request.kind === "bad-key" ? "sk-not-a-valid-key-0123456789" : request.key;
  const head =
    "POST /v1/chat/completions HTTP/1.1\r\n" +
    `host: 127.0.0.1:${port}\r\n` +
    `authorization: Bearer ${key}\r\n` +
    "content-type: application/json\r\n" +
    `x-request-id: ${request.id}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = "";
    let done = false;
    const finish = (complete: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received);
      resolve({ status: status ? Number(status[1]) : null, complete });
    };
    const afterHead = request.afterHead === true && (request.kind === "stream" || request.kind === "fast-stream");
    let timer = setTimeout(() => finish(false), afterHead ? HEAD_WAIT_MS : request.cutAfterMs);
    socket.on("connect", () => {
      // A slow body: the head and half of the body, the rest never comes.
      socket.write(request.kind === "slow-body" ? head + body.slice(0, body.length >> 1) : head + body);
    });
    socket.on("data", (data: Buffer) => {
      const headless = !received.includes("\r\n\r\n");
      received += data.toString("latin1");
      if (responseEnded(received)) return finish(true);
      if (afterHead && headless && received.includes("\r\n\r\n")) {
        clearTimeout(timer);
        timer = setTimeout(() => finish(false), request.cutAfterMs);
      }
    });
    socket.on("error", () => finish(false));
    socket.on("close", () => finish(false));
  });
}

/** A request cut after its response's head waits this long at most for the head. */
const HEAD_WAIT_MS = 5_000;

/** Whether `text` (latin1) holds a whole HTTP/1.1 response, framed by Content-Length or chunked encoding. */
function responseEnded(text: string): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end === -1) return false;
  const head = text.slice(0, end).toLowerCase();
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  if (length) return text.length - end - 4 >= Number(length[1]);
  return /\r\ntransfer-encoding: *chunked/.test(head) && text.endsWith("\r\n0\r\n\r\n");
}

/** The value of a gauge or counter without labels in a Prometheus text page (NaN when absent). */
export function promMetric(page: string, name: string): number {
  for (const line of page.split("\n")) if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  return Number.NaN;
}

/** Runs `tasks` with at most `concurrency` at a time. */
export async function runBounded<T>(tasks: ReadonlyArray<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= tasks.length) return;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

/** mulberry32: a small seeded PRNG, so a failing run replays. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A cut moment between 0 and `maxMs`, weighted towards the first milliseconds (where the gateway awaits its quota
 * store and its model list): a third within 5 ms, a third within 40 ms, the rest anywhere up to `maxMs`.
 */
export function cutMoment(random: () => number, maxMs: number): number {
  const r = random();
  if (r < 1 / 3) return random() * 5;
  if (r < 2 / 3) return random() * Math.min(40, maxMs);
  return random() * maxMs;
}
