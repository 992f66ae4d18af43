import * as v from "valibot";

/** Field builders for env schemas: every variable arrives as an optional string. Messages describe, never echo. */

export function integer(options: { default: number; min: number; max: number }) {
  return v.pipe(
    v.optional(v.string(), String(options.default)),
    v.regex(/^\s*-?\d+\s*$/, `an integer from ${options.min} to ${options.max}`),
    v.transform(Number),
    v.minValue(options.min, `an integer from ${options.min} to ${options.max}`),
    v.maxValue(options.max, `an integer from ${options.min} to ${options.max}`),
  );
}

export function port(defaultPort: number) {
  return integer({ default: defaultPort, min: 0, max: 65535 });
}

const TRUE = ["1", "true", "yes", "on"];
const FALSE = ["0", "false", "no", "off"];

/** Booleans as the Python Hub client reads them (1/ON/YES/TRUE, any case); also 0/false/no/off. */
export function boolean(defaultValue: boolean) {
  return v.pipe(
    v.optional(v.string(), defaultValue ? "1" : "0"),
    v.transform((s) => s.trim().toLowerCase()),
    v.picklist([...TRUE, ...FALSE], "one of 1/true/yes/on or 0/false/no/off"),
    v.transform((s) => TRUE.includes(s)),
  );
}

export function httpUrl(defaultUrl: string) {
  return v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.url("an http(s) URL"),
      v.regex(/^https?:\/\//i, "an http(s) URL"),
      v.transform((s) => s.replace(/\/+$/, "")),
    ),
    defaultUrl,
  );
}

/** One http(s) URL or a comma-separated list of them (at least one); trailing `/` dropped. */
export function httpUrlList(defaultUrl: string) {
  return v.pipe(
    list(),
    v.transform((urls) => (urls.length > 0 ? urls : [defaultUrl])),
    v.check((urls) => urls.every((u) => URL.canParse(u) && /^https?:\/\//i.test(u)), "http(s) URLs, comma-separated"),
    v.transform((urls) => urls.map((u) => u.replace(/\/+$/, ""))),
  );
}

/** Comma-separated list; blanks dropped. */
export function list() {
  return v.pipe(
    v.optional(v.string(), ""),
    v.transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x.length > 0),
    ),
  );
}

/** An optional bearer token of 16+ URL-safe characters (the internal key between gateway and inference). */
export function bearerToken() {
  return v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.minLength(16, "at least 16 characters"),
      v.regex(/^[A-Za-z0-9._~+/-]+=*$/, "a bearer token (letters, digits and . _ ~ + / -)"),
    ),
  );
}

export function text() {
  return v.optional(v.pipe(v.string(), v.trim()));
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export function logLevel() {
  return v.optional(v.picklist(LOG_LEVELS, `one of ${LOG_LEVELS.join(", ")}`), "info");
}
