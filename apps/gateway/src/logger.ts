import type { GatewayConfig } from "@slm/config";
import { scrub } from "./scrub.ts";

/** A tiny structured logger: one JSON object per line. Web-standard (console only), so it runs on Node and Deno. */

export type LogLevel = GatewayConfig["logLevel"];
export type LogFields = Record<string, unknown>;

export interface Logger {
  /** Writes out lines still buffered (call before exiting). */
  flush(): void;
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Lowest level written; "silent" writes nothing. Default "info". */
  level?: LogLevel;
  /** Fields added to every line. */
  base?: LogFields;
  /**
   * Where a finished line goes. Default: batched - lines at info and below are joined and written with one
   * console.log per timer tick (one write per burst of requests instead of one per request); warn and above go to
   * console.error at once.
   */
  write?: (line: string, level: LogLevel) => void;
}

const SEVERITY: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: 100,
};

let pending: string[] = [];
let flushTimer: ReturnType<typeof setTimeout> | undefined;

function flushPending(): void {
  if (flushTimer !== undefined) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending.length === 0) return;
  const lines = pending;
  pending = [];
  console.log(lines.join("\n"));
}

function defaultWrite(line: string, level: LogLevel): void {
  if (SEVERITY[level] >= SEVERITY.warn) {
    flushPending(); // keep the order of lines
    console.error(line);
    return;
  }
  pending.push(line);
  if (pending.length >= 256) flushPending();
  else flushTimer ??= setTimeout(flushPending, 0);
}

/**
 * Errors become plain objects (JSON.stringify would print `{}`): name, scrubbed message and code, never the stack.
 * Scrubbed because messages of network errors quote URLs and addresses (the inference replica's, Redis's).
 */
function serialize(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    const out: LogFields = { name: value.name, message: scrub(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out["code"] = code;
    if (value.cause !== undefined && depth < 3) out["cause"] = serialize(value.cause, depth + 1);
    return out;
  }
  return value;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = SEVERITY[options.level ?? "info"];
  const write = options.write ?? defaultWrite;
  const base = options.base ?? {};

  const log = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (SEVERITY[level] < threshold) return;
    const entry: LogFields = { time: new Date().toISOString(), level, msg, ...base };
    if (fields) for (const [key, value] of Object.entries(fields)) entry[key] = serialize(value);
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      line = JSON.stringify({ time: entry["time"], level, msg, note: "fields were not serializable" });
    }
    write(line, level);
  };

  return {
    flush: () => {
      if (write === defaultWrite) flushPending();
    },
    error: (msg, fields) => log("error", msg, fields),
    warn: (msg, fields) => log("warn", msg, fields),
    info: (msg, fields) => log("info", msg, fields),
    debug: (msg, fields) => log("debug", msg, fields),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}

export const silentLogger: Logger = createLogger({ level: "silent" });
