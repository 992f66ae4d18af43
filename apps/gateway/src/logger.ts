import type { GatewayConfig } from "@slm/config";

/** A tiny structured logger: one JSON object per line. Web-standard (console only), so it runs on Node and Deno. */

export type LogLevel = GatewayConfig["logLevel"];
export type LogFields = Record<string, unknown>;

export interface Logger {
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
  /** Where a finished line goes. Default: console.log for info and below, console.error for warn and above. */
  write?: (line: string, level: LogLevel) => void;
}

const SEVERITY: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };

function defaultWrite(line: string, level: LogLevel): void {
  if (SEVERITY[level] >= SEVERITY.warn) console.error(line);
  else console.log(line);
}

/** Errors become plain objects (JSON.stringify would print `{}`): name, message and code, never the stack. */
function serialize(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    const out: LogFields = { name: value.name, message: value.message };
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
    error: (msg, fields) => log("error", msg, fields),
    warn: (msg, fields) => log("warn", msg, fields),
    info: (msg, fields) => log("info", msg, fields),
    debug: (msg, fields) => log("debug", msg, fields),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}

export const silentLogger: Logger = createLogger({ level: "silent" });
