/**
 * JSON in the exact form of Python Seamless `json_dumps_bytes` (orjson, OPT_INDENT_2 |
 * OPT_SORT_KEYS), cli-spec §1.2. JS numbers lose Python's int/float distinction, so floats
 * are carried as {@link PlainFloat} and the parser keeps `1.0` a float.
 * @module
 */
import { SeamlessError } from "../errors.ts";

/** A Python float, kept apart from integers so that `1.0` is written `1.0`, not `1`. */
export class PlainFloat {
  constructor(readonly value: number) {}
}

/** A JSON value as Python sees it: integers are `number` (or `bigint` beyond 2^53). */
export type PlainValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PlainFloat
  | PlainValue[]
  | { [key: string]: PlainValue };

/** Raised for values orjson would refuse and for malformed JSON text. */
export class PlainJsonError extends SeamlessError {}

const encoder = new TextEncoder();

/** Compares strings by Unicode code point, as orjson's key sort does. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800–DFFF) encode code points above FFFF, which sort after E000–FFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Formats a float exactly as orjson 3.12 does: the shortest round-trip digits, laid out by
 * ryu's rules, with an explicit `+` on positive exponents.
 */
export function formatPythonFloat(value: number): string {
  if (!Number.isFinite(value)) throw new PlainJsonError(`Cannot serialize non-finite float ${value}`);
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  const [mantissaText, exponentText] = Math.abs(value).toExponential().split("e") as [string, string];
  const digits = mantissaText.replace(".", "");
  const length = digits.length;
  const kk = Number(exponentText) + 1; // 10^(kk-1) <= |value| < 10^kk
  const k = kk - length;
  let text: string;
  if (k >= 0 && kk <= 16) text = `${digits}${"0".repeat(k)}.0`;
  else if (kk > 0 && kk <= 16) text = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else if (kk > -5 && kk <= 0) text = `0.${"0".repeat(-kk)}${digits}`;
  else {
    const exponent = kk - 1;
    const mantissa = length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    text = `${mantissa}e${exponent < 0 ? "-" : "+"}${Math.abs(exponent)}`;
  }
  return sign + text;
}

const SHORT_ESCAPES: Record<number, string> = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\" };

const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/;

/** A JSON string literal as orjson writes it: raw UTF-8, only `"`, `\` and controls escaped. */
export function quotePlainString(text: string): string {
  // A regex scan instead of a character loop: a cache hit quotes enough text that the loop
  // got baseline-JIT-compiled, which costs more than the whole scan.
  if (!NEEDS_ESCAPE.test(text)) return `"${text}"`;
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 34 || c === 92) {
      out += SHORT_ESCAPES[c] ?? `\\u00${c.toString(16).padStart(2, "0")}`;
    } else {
      out += text[i];
    }
  }
  return `${out}"`;
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

function writeValue(value: unknown, indent: string, out: string[]): void {
  if (value === null || value === undefined) {
    out.push("null");
  } else if (typeof value === "boolean") {
    out.push(value ? "true" : "false");
  } else if (typeof value === "number") {
    if (Number.isInteger(value) && !Object.is(value, -0)) {
      if (!Number.isSafeInteger(value)) writeValue(BigInt(value), indent, out);
      else out.push(String(value));
    } else {
      out.push(formatPythonFloat(value));
    }
  } else if (typeof value === "bigint") {
    if (value < INT64_MIN || value > UINT64_MAX) throw new PlainJsonError("Integer exceeds 64-bit range");
    out.push(value.toString());
  } else if (typeof value === "string") {
    out.push(quotePlainString(value));
  } else if (value instanceof PlainFloat) {
    out.push(formatPythonFloat(value.value));
  } else if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push("[]");
      return;
    }
    const inner = `${indent}  `;
    out.push("[\n");
    value.forEach((item, i) => {
      out.push(inner);
      writeValue(item, inner, out);
      out.push(i < value.length - 1 ? ",\n" : "\n");
    });
    out.push(`${indent}]`);
  } else if (typeof value === "object") {
    const keys = Object.keys(value as object).sort(compareCodePoints);
    if (keys.length === 0) {
      out.push("{}");
      return;
    }
    const inner = `${indent}  `;
    out.push("{\n");
    keys.forEach((key, i) => {
      out.push(inner, quotePlainString(key), ": ");
      writeValue((value as Record<string, unknown>)[key], inner, out);
      out.push(i < keys.length - 1 ? ",\n" : "\n");
    });
    out.push(`${indent}}`);
  } else {
    throw new PlainJsonError(`Cannot serialize a value of type ${typeof value}`);
  }
}

/**
 * Serializes a value as JSON-canonical text (no trailing newline).
 *
 * @param value the value; JS non-integer numbers are floats, integers stay integers
 * @returns the text orjson would write
 * @throws {PlainJsonError} for non-finite floats or out-of-range integers
 * @example
 * ```ts
 * stringifyPlain({ b: 1, a: [1, 2] }); // '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}'
 * ```
 */
export function stringifyPlain(value: unknown): string {
  const out: string[] = [];
  writeValue(value, "", out);
  return out.join("");
}

/** The `plain` buffer of a value: JSON-canonical text + `\n`, UTF-8 encoded. */
export function serializePlain(value: unknown): Uint8Array {
  return encoder.encode(`${stringifyPlain(value)}\n`);
}

/**
 * Parses JSON text keeping Python's view of numbers: a literal with `.`/`e` becomes a
 * {@link PlainFloat}, an integer literal a `number` (or `bigint` when beyond 2^53).
 *
 * @param text JSON text
 * @returns the value
 * @throws {PlainJsonError} for malformed JSON
 */
export function parsePlain(text: string): PlainValue {
  let pos = 0;
  const fail = (what: string): never => {
    throw new PlainJsonError(`Invalid JSON at position ${pos}: ${what}`);
  };
  const skipWhitespace = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) pos++;
      else break;
    }
  };
  const parseString = (): string => {
    // Reuse the platform's string decoder on the exact literal span.
    const start = pos;
    pos++;
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 92) pos += 2;
      else if (c === 34) break;
      else if (c < 0x20) fail("control character in string");
      else pos++;
    }
    if (pos >= text.length) fail("unterminated string");
    pos++;
    return JSON.parse(text.slice(start, pos)) as string;
  };
  const parseValue = (): PlainValue => {
    skipWhitespace();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const obj: Record<string, PlainValue> = {};
      skipWhitespace();
      if (text[pos] === "}") {
        pos++;
        return obj;
      }
      for (;;) {
        skipWhitespace();
        if (text[pos] !== '"') fail("expected a key");
        const key = parseString();
        skipWhitespace();
        if (text[pos] !== ":") fail("expected ':'");
        pos++;
        Object.defineProperty(obj, key, { value: parseValue(), enumerable: true, writable: true, configurable: true });
        skipWhitespace();
        if (text[pos] === ",") pos++;
        else if (text[pos] === "}") {
          pos++;
          return obj;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      pos++;
      const arr: PlainValue[] = [];
      skipWhitespace();
      if (text[pos] === "]") {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue());
        skipWhitespace();
        if (text[pos] === ",") pos++;
        else if (text[pos] === "]") {
          pos++;
          return arr;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return parseString();
    if (text.startsWith("true", pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith("false", pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith("null", pos)) {
      pos += 4;
      return null;
    }
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(pos, pos + 400));
    if (!match) return fail("unexpected character");
    pos += match[0].length;
    if (match[2] === undefined && match[3] === undefined) {
      const n = Number(match[0]);
      return Number.isSafeInteger(n) ? n : BigInt(match[0]);
    }
    return new PlainFloat(Number(match[0]));
  };
  const value = parseValue();
  skipWhitespace();
  if (pos !== text.length) fail("trailing characters");
  return value;
}
