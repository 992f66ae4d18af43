/**
 * Numbers within bounds as GBNF, digit by digit (as llama.cpp's json-schema-to-grammar.cpp does for integers in
 * `build_min_max_int`, written afresh here and extended to decimal bounds). Every expression is linear in the number
 * of digits of its bounds: ±(2^53-1) takes a few hundred characters, never one alternative per value.
 */

/** Unbounded integers and the integral part of numbers: at most 16 digits, as llama.cpp's `integral-part`. */
export const MAX_DIGITS = 16;
const LIMIT = 10n ** BigInt(MAX_DIGITS) - 1n;

const digits = (n: number): string => (n === 1 ? "[0-9]" : `[0-9]{${n}}`);
const digitClass = (from: number, to: number): string => (from === to ? `[${from}]` : `[${from}-${to}]`);
const alternatives = (alts: string[]): string => (alts.length === 1 ? alts[0]! : `(${alts.join(" | ")})`);

/** Decimal strings of equal length `a <= b` (leading zeros allowed: inner positions). */
function sameLength(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const prefix = i > 0 ? `"${a.slice(0, i)}"` : "";
  if (i === a.length) return prefix;
  const rest = a.length - i - 1;
  const lo = Number(a[i]);
  const hi = Number(b[i]);
  let body: string;
  if (rest === 0) body = digitClass(lo, hi);
  else {
    const aRest = a.slice(i + 1);
    const bRest = b.slice(i + 1);
    const aZeros = /^0*$/.test(aRest);
    const bNines = /^9*$/.test(bRest);
    const alts: string[] = [];
    const midLo = aZeros ? lo : lo + 1;
    const midHi = bNines ? hi : hi - 1;
    if (!aZeros) alts.push(`[${lo}] ${sameLength(aRest, "9".repeat(rest))}`);
    if (midLo <= midHi) alts.push(`${digitClass(midLo, midHi)} ${digits(rest)}`);
    if (!bNines) alts.push(`[${hi}] ${sameLength("0".repeat(rest), bRest)}`);
    body = alternatives(alts);
  }
  return prefix ? `${prefix} ${body}` : body;
}

/** Non-negative integers without leading zeros in [lo, hi] (hi undefined: up to MAX_DIGITS digits). */
function naturals(lo: bigint, hi: bigint | undefined): string {
  const top = hi === undefined || hi > LIMIT ? LIMIT : hi;
  const alts: string[] = [];
  const loLength = lo.toString().length;
  const topLength = top.toString().length;
  for (let length = loLength; length <= topLength; length++) {
    const first = length === 1 ? 0n : 10n ** BigInt(length - 1);
    const last = 10n ** BigInt(length) - 1n;
    const from = lo > first ? lo : first;
    const to = top < last ? top : last;
    if (from > to) continue;
    if (length > 1 && from === first && to === last) {
      // Every full length in a row at once: [1-9] [0-9]{a,b}.
      let end = length;
      while (end < topLength && (end + 1 < topLength || top === 10n ** BigInt(end + 1) - 1n)) end++;
      alts.push(end === length ? `[1-9] ${digits(length - 1)}` : `[1-9] [0-9]{${length - 1},${end - 1}}`);
      length = end;
      continue;
    }
    alts.push(sameLength(from.toString(), to.toString()));
  }
  return alts.length === 0 ? "" : alternatives(alts);
}

/**
 * Integers in [min, max] (either may be undefined: unbounded, up to 16 digits) as a GBNF expression; undefined when
 * the range is empty. Bounds beyond 16 digits are clamped on the unbounded side.
 */
export function integerRange(min: bigint | undefined, max: bigint | undefined): string | undefined {
  if (min !== undefined && max !== undefined && min > max) return undefined;
  const alts: string[] = [];
  if (min === undefined || min < 0n) {
    // Negative values: "-" then a magnitude in [max(1, -max), -min].
    const magLo = max !== undefined && max < 0n ? -max : 1n;
    const magHi = min === undefined ? undefined : -min;
    if (magHi === undefined || magLo <= (magHi > LIMIT ? LIMIT : magHi)) alts.push(`"-" ${naturals(magLo, magHi)}`);
  }
  if (max === undefined || max >= 0n) {
    const lo = min !== undefined && min > 0n ? min : 0n;
    if (lo <= LIMIT) alts.push(naturals(lo, max));
  }
  return alts.length === 0 ? undefined : alternatives(alts);
}

/** A decimal bound: its integral digits and its fraction digits without trailing zeros. */
interface Decimal {
  int: bigint;
  frac: string;
}

/** The exact decimal expansion of a finite non-negative double, or undefined past `maxFraction` fraction digits. */
export function toDecimal(value: number, maxFraction = 20): Decimal | undefined {
  let text = Math.abs(value).toString();
  const exp = /^(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (exp) {
    const mantissa = exp[1]! + (exp[2] ?? "");
    const point = exp[1]!.length + Number(exp[3]);
    text =
      point <= 0
        ? `0.${"0".repeat(-point)}${mantissa}`
        : point >= mantissa.length
          ? mantissa + "0".repeat(point - mantissa.length)
          : `${mantissa.slice(0, point)}.${mantissa.slice(point)}`;
  }
  const [int, frac = ""] = text.split(".");
  const trimmed = frac.replace(/0+$/, "");
  if (trimmed.length > maxFraction) return undefined;
  return { int: BigInt(int!), frac: trimmed };
}

/** Fraction digit strings (after the point), and whether having none (no point at all) is allowed too. */
interface Fraction {
  /** GBNF for one or more digits, or undefined for none. */
  digits: string | undefined;
  empty: boolean;
}
const ANY_TAIL = `[0-9]{0,${MAX_DIGITS - 1}}`;
const ANY_FRACTION: Fraction = { digits: `[0-9]{1,${MAX_DIGITS}}`, empty: true };

function lead(digit: string, tail: Fraction): string | undefined {
  if (tail.digits === undefined) return tail.empty ? `"${digit}"` : undefined;
  return tail.empty ? `"${digit}" ${optional(tail.digits)}` : `"${digit}" ${tail.digits}`;
}
const optional = (expr: string) => (/^[[("]/.test(expr) && !expr.includes(" ") ? `${expr}?` : `(${expr})?`);

function fraction(alts: Array<string | undefined>, empty: boolean): Fraction {
  const present = alts.filter((a): a is string => a !== undefined);
  return { digits: present.length === 0 ? undefined : alternatives(present), empty };
}

/** Fractions 0.F >= 0.s (> when strict). */
function fractionAtLeast(s: string, strict: boolean): Fraction {
  if (s === "") return strict ? { digits: `[0-9]{0,${MAX_DIGITS - 1}} [1-9]`, empty: false } : ANY_FRACTION;
  const d = Number(s[0]);
  return fraction(
    [d < 9 ? `${digitClass(d + 1, 9)} ${ANY_TAIL}` : undefined, lead(s[0]!, fractionAtLeast(s.slice(1), strict))],
    false,
  );
}

/** Fractions 0.F <= 0.t (< when strict). */
function fractionAtMost(t: string, strict: boolean): Fraction {
  if (t === "") return strict ? { digits: undefined, empty: false } : { digits: `"0"{1,${MAX_DIGITS}}`, empty: true };
  const d = Number(t[0]);
  return fraction(
    [d > 0 ? `${digitClass(0, d - 1)} ${ANY_TAIL}` : undefined, lead(t[0]!, fractionAtMost(t.slice(1), strict))],
    true,
  );
}

/** Fractions between 0.s and 0.t (0.s < 0.t). */
function fractionBetween(s: string, t: string, sStrict: boolean, tStrict: boolean): Fraction {
  const sd = s === "" ? 0 : Number(s[0]);
  const td = Number(t[0]);
  const empty = s === "" && !sStrict;
  if (sd === td) return fraction([lead(t[0]!, fractionBetween(s.slice(1), t.slice(1), sStrict, tStrict))], empty);
  return fraction(
    [
      lead(String(sd), fractionAtLeast(s.slice(1), sStrict)),
      sd + 1 <= td - 1 ? `${digitClass(sd + 1, td - 1)} ${ANY_TAIL}` : undefined,
      lead(t[0]!, fractionAtMost(t.slice(1), tStrict)),
    ],
    empty,
  );
}

/** An integral part then a fraction: `I ("." F)?`. */
function withFraction(integral: string, f: Fraction): string | undefined {
  if (f.digits === undefined) return f.empty ? integral : undefined;
  return f.empty ? `${integral} ("." ${f.digits})?` : `${integral} "." ${f.digits}`;
}

/** Non-negative decimals I.F between a and b (b undefined: unbounded), no exponent. */
function magnitude(a: Decimal, aStrict: boolean, b: Decimal | undefined, bStrict: boolean): string | undefined {
  const alts: Array<string | undefined> = [];
  if (b === undefined) {
    alts.push(withFraction(`"${a.int}"`, fractionAtLeast(a.frac, aStrict)));
    const above = naturals(a.int + 1n, undefined);
    if (above) alts.push(withFraction(above, ANY_FRACTION));
  } else if (a.int === b.int) {
    if (a.frac === b.frac)
      return aStrict || bStrict ? undefined : withFraction(`"${a.int}"`, fractionAtMost("", false));
    alts.push(withFraction(`"${a.int}"`, fractionBetween(a.frac, b.frac, aStrict, bStrict)));
  } else {
    alts.push(withFraction(`"${a.int}"`, fractionAtLeast(a.frac, aStrict)));
    if (a.int + 1n <= b.int - 1n) alts.push(withFraction(naturals(a.int + 1n, b.int - 1n), ANY_FRACTION));
    alts.push(withFraction(`"${b.int}"`, fractionAtMost(b.frac, bStrict)));
  }
  const present = alts.filter((x): x is string => x !== undefined);
  return present.length === 0 ? undefined : alternatives(present);
}

export interface NumberBound {
  value: number;
  exclusive: boolean;
}

const ZERO: Decimal = { int: 0n, frac: "" };
const less = (x: Decimal, y: Decimal) =>
  x.int !== y.int ? x.int < y.int : x.frac.padEnd(y.frac.length, "0") < y.frac.padEnd(x.frac.length, "0");

/**
 * Decimal numbers (no exponent) within the bounds, as a GBNF expression; undefined when none is. A bound whose
 * magnitude has more than 16 integral digits is no bound on the side it opens (the integral part has at most 16
 * digits); one that closes the range beyond them is refused by the caller (`toDecimal` fails or the result is empty).
 */
export function numberRange(min: NumberBound | undefined, max: NumberBound | undefined): string | undefined {
  const big = 10 ** MAX_DIGITS;
  if ((min && min.value >= big) || (max && max.value <= -big)) return undefined;
  const lo = min && min.value > -big ? min : undefined;
  const hi = max && max.value < big ? max : undefined;
  const loDec = lo && toDecimal(lo.value);
  const hiDec = hi && toDecimal(hi.value);
  if ((lo && !loDec) || (hi && !hiDec)) return undefined;
  const alts: string[] = [];
  // Negative values: "-" then a magnitude between max(0, -hi) and -lo ("-0" only when zero is in range).
  if (!lo || lo.value < 0) {
    const closed = hi !== undefined && hi.value <= 0;
    const m = span(closed ? hiDec! : ZERO, closed ? hi.exclusive : false, loDec, lo?.exclusive ?? false);
    if (m) alts.push(`"-" ${m}`);
  }
  // Non-negative values: a magnitude between max(0, lo) and hi.
  if (!hi || hi.value >= 0) {
    const open = lo !== undefined && lo.value >= 0;
    const m = span(open ? loDec! : ZERO, open ? lo.exclusive : false, hiDec, hi?.exclusive ?? false);
    if (m) alts.push(m);
  }
  return alts.length === 0 ? undefined : alternatives(alts);
}

/** `magnitude`, or undefined when no value lies between the bounds. */
function span(a: Decimal, aStrict: boolean, b: Decimal | undefined, bStrict: boolean): string | undefined {
  if (b !== undefined && (less(b, a) || (!less(a, b) && (aStrict || bStrict)))) return undefined;
  return magnitude(a, aStrict, b, bStrict);
}
