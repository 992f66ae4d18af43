import { integerRange } from "./ranges.ts";

/**
 * String formats as GBNF for the whole JSON string (quotes included), each a subset of what ajv-formats accepts in
 * its default ("full") mode. llama.cpp has rules for date, time, date-time and uuid; its date allows day 31 in any
 * month (2024-02-31, which a validator refuses), so days here follow their month (February to the 28th). email, uri,
 * hostname and ipv4 are ours: common, sensible subsets (an email as `local@label.tld`, a uri as an http(s) URL).
 * Each entry gives the fewest and most characters its values have, for minLength/maxLength beside a format.
 */
export interface FormatGrammar {
  /** Rules by name (names are fixed; the converter adds them once). */
  rules: Record<string, string>;
  /** The expression for the JSON string. */
  expr: string;
  minLength: number;
  maxLength: number;
}

const DATE =
  '[0-9]{4} "-" ( ("0" [13578] | "1" [02]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]) | ("0" [469] | "11") "-" ("0" [1-9] | [12] [0-9] | "30") | "02" "-" ("0" [1-9] | "1" [0-9] | "2" [0-8]) )';
const TIME =
  '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,3})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])';
const LABEL = "[a-z0-9] ([a-z0-9-]{0,14} [a-z0-9])?";

function email(maxLength: number | undefined): FormatGrammar | undefined {
  // local@label(.label)?.tld: at most 2a+1 + 1 + 2b+1 + 1 + 4 characters.
  const budget = maxLength ?? 72;
  const part = Math.min(16, Math.floor((budget - 8) / 4));
  if (part < 1) return undefined;
  const local = `[a-zA-Z0-9_+-]{1,${part}}`;
  const label = `[a-z0-9]{1,${part}}`;
  return {
    rules: {},
    expr: `"\\"" ${local} ("." ${local})? "@" (${label} ".")? ${label} "." [a-z]{2,4} "\\""`,
    minLength: 6,
    maxLength: 4 * part + 8,
  };
}

export function formatGrammar(format: string, maxLength: number | undefined): FormatGrammar | undefined {
  const quoted = (expr: string) => `"\\"" ${expr} "\\""`;
  switch (format) {
    case "date":
      return { rules: { date: DATE }, expr: quoted("date"), minLength: 10, maxLength: 10 };
    case "time":
      return { rules: { time: TIME }, expr: quoted("time"), minLength: 9, maxLength: 18 };
    case "date-time":
      return { rules: { date: DATE, time: TIME }, expr: quoted('date "T" time'), minLength: 20, maxLength: 29 };
    case "uuid":
    case "uuid1":
    case "uuid2":
    case "uuid3":
    case "uuid4":
    case "uuid5":
      return {
        rules: {},
        expr: quoted('[0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12}'),
        minLength: 36,
        maxLength: 36,
      };
    case "email":
      return email(maxLength);
    case "hostname":
      return { rules: { label: LABEL }, expr: quoted('label ("." label){0,3}'), minLength: 1, maxLength: 16 * 4 + 3 };
    case "ipv4": {
      const octet = integerRange(0n, 255n)!;
      return { rules: { octet }, expr: quoted('octet "." octet "." octet "." octet'), minLength: 7, maxLength: 15 };
    }
    case "uri":
      return {
        rules: { label: LABEL },
        expr: quoted('"http" "s"? "://" label ("." label){0,2} "." [a-z]{2,4} ("/" [a-zA-Z0-9._~-]{1,16}){0,4}'),
        minLength: 11,
        maxLength: 8 + 16 * 3 + 2 + 5 + 17 * 4,
      };
    default:
      return undefined;
  }
}

export const SUPPORTED_FORMATS = "date, time, date-time, uuid, email, uri, hostname, ipv4";
