import { seededRandom } from "@slm/testkit";
import { type ChatMessage, type ChatTurn, streamChat } from "./chat-stream.ts";

/**
 * The chat product's workload: U users, each in a T-turn conversation that starts with the same system prompt; each
 * turn sends the whole history plus a new user message, as soon as the previous reply ended; all users at once.
 */
export interface WorkloadOptions {
  users: number;
  turns: number;
  maxTokens: number;
  /** Words of the shared system prompt (~1.1 tokens each with the Qwen2 vocabulary: 360 words ~ 400 tokens). */
  systemWords: number;
  /** Words of each user message (~72 words ~ 80 tokens). */
  messageWords: number;
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  users: 4,
  turns: 6,
  maxTokens: 24,
  systemWords: 360,
  messageWords: 72,
};

const WORDS = (
  "the a of to and in is it that for on with as was at by be this from or have an they which one you had " +
  "not but what all were when we there can more if no out so said up its about into than them only other " +
  "new some could time these two may then do first any my now such like our over man me even most made after " +
  "also did many before must through back years where much your way well down should because each just those " +
  "people how too little state good very make world still own see men work long get here between both life " +
  "being under never day same another know while last might us great old year off come since against go came " +
  "right used take three order customer account billing invoice refund shipping package delivery address " +
  "password login support ticket product warranty subscription plan upgrade device battery screen network"
).split(" ");

function sentences(seed: number, words: number): string {
  const next = seededRandom(seed);
  const out: string[] = [];
  let sentence: string[] = [];
  for (let i = 0; i < words; i++) {
    const word = WORDS[Math.floor(next() * WORDS.length)]!;
    sentence.push(sentence.length === 0 ? word[0]!.toUpperCase() + word.slice(1) : word);
    if (sentence.length >= 8 + Math.floor(next() * 8) || i === words - 1) {
      out.push(`${sentence.join(" ")}.`);
      sentence = [];
    }
  }
  return out.join(" ");
}

export function systemPrompt(options: WorkloadOptions): string {
  return `You are the support assistant of a small online shop. Follow these rules. ${sentences(1, options.systemWords)}`;
}

/** Distinct per user and turn. */
export function userMessage(options: WorkloadOptions, user: number, turn: number): string {
  return `User ${user + 1}, question ${turn + 1}: ${sentences(1000 + user * 100 + turn, options.messageWords)}`;
}

export interface TurnRecord extends ChatTurn {
  user: number;
  turn: number;
}

export interface WorkloadResult {
  wallMs: number;
  turns: TurnRecord[];
}

export interface Target {
  url: string;
  model?: string | undefined;
  headers?: Record<string, string> | undefined;
  extra?: Record<string, unknown> | undefined;
}

/** Runs every user's conversation at once, each turn sent as soon as that user's previous reply ended. */
export async function runWorkload(
  target: Target,
  options: WorkloadOptions,
  onTurn?: (record: TurnRecord) => void,
): Promise<WorkloadResult> {
  const system = systemPrompt(options);
  const started = performance.now();
  const perUser = await Promise.all(
    Array.from({ length: options.users }, async (_, user) => {
      const messages: ChatMessage[] = [{ role: "system", content: system }];
      const records: TurnRecord[] = [];
      for (let turn = 0; turn < options.turns; turn++) {
        messages.push({ role: "user", content: userMessage(options, user, turn) });
        const result = await streamChat({ ...target, messages, maxTokens: options.maxTokens });
        records.push({ ...result, user, turn });
        onTurn?.(records.at(-1)!);
        messages.push({ role: "assistant", content: result.reply });
      }
      return records;
    }),
  );
  return { wallMs: performance.now() - started, turns: perUser.flat() };
}

export interface WorkloadSummary {
  wallMs: number;
  ttftMeanMs: number;
  /** Mean over users, per turn. */
  ttftPerTurnMs: number[];
  /** Turns 3 to the last (1-based), or every turn when there are fewer. */
  ttftLateMeanMs: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Cached tokens of turns 2+ over what a perfect per-conversation cache holds for them. */
  cachedHistoryTokens: number;
  perfectHistoryTokens: number;
  /** Cached prompt tokens of first turns (the shared system prompt, reused across users). */
  cachedFirstTurnTokens: number;
  /** Replies shorter than max_tokens (an end-of-generation token), which changes the work. */
  shortReplies: number;
}

const mean = (xs: number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * A perfect per-conversation cache holds, at turn t >= 2, everything of the previous turn's sequence: its prompt and
 * its reply's tokens (all of turn t's prompt but the chat template's glue and the new user message).
 */
export function summarize(result: WorkloadResult, options: WorkloadOptions): WorkloadSummary {
  const byUser = (user: number) => result.turns.filter((t) => t.user === user).sort((a, b) => a.turn - b.turn);
  let perfect = 0;
  let cachedHistory = 0;
  for (let user = 0; user < options.users; user++) {
    const turns = byUser(user);
    for (let i = 1; i < turns.length; i++) {
      perfect += turns[i - 1]!.promptTokens + turns[i - 1]!.completionTokens;
      cachedHistory += turns[i]!.cachedTokens;
    }
  }
  const ttftPerTurnMs = Array.from({ length: options.turns }, (_, turn) =>
    mean(result.turns.filter((t) => t.turn === turn).map((t) => t.firstContentMs)),
  );
  const late = result.turns.filter((t) => t.turn >= Math.min(2, options.turns - 1));
  const sum = (key: "promptTokens" | "completionTokens" | "cachedTokens") =>
    result.turns.reduce((s, t) => s + t[key], 0);
  return {
    wallMs: result.wallMs,
    ttftMeanMs: mean(result.turns.map((t) => t.firstContentMs)),
    ttftPerTurnMs,
    ttftLateMeanMs: mean(late.map((t) => t.firstContentMs)),
    promptTokens: sum("promptTokens"),
    completionTokens: sum("completionTokens"),
    cachedTokens: sum("cachedTokens"),
    cachedHistoryTokens: cachedHistory,
    perfectHistoryTokens: perfect,
    cachedFirstTurnTokens: result.turns.filter((t) => t.turn === 0).reduce((s, t) => s + t.cachedTokens, 0),
    shortReplies: result.turns.filter((t) => t.completionTokens < options.maxTokens).length,
  };
}

/** Replies of two runs compared turn by turn: how many are identical, and each user's first differing turn. */
export function compareReplies(
  a: WorkloadResult,
  b: WorkloadResult,
): { identical: number; total: number; firstDifference: Array<number | undefined> } {
  const key = (t: TurnRecord) => `${t.user}/${t.turn}`;
  const other = new Map(b.turns.map((t) => [key(t), t.reply]));
  let identical = 0;
  const first = new Map<number, number>();
  for (const t of [...a.turns].sort((x, y) => x.turn - y.turn)) {
    if (other.get(key(t)) === t.reply) identical++;
    else if (!first.has(t.user)) first.set(t.user, t.turn);
  }
  const users = Math.max(...a.turns.map((t) => t.user)) + 1;
  return {
    identical,
    total: a.turns.length,
    firstDifference: Array.from({ length: users }, (_, u) => first.get(u)),
  };
}
