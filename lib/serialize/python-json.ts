/**
 * JSON as Python's standard `json` module writes it (`json.dumps` defaults: `", "` and `": "`
 * separators, `ensure_ascii`, float `repr`), and Python's `==` on parsed values. The
 * seamless-database answers and stores text this way (services-spec §3.2, §3.5), so a server
 * that must be byte-identical to it needs the same layout. Values come from
 * {@link parsePlain}, which keeps Python's int/float distinction.
 * @module
 */
import { PlainFloat, compareCodePoints, type PlainValue } from "./plain-json.ts";

/** Layout of {@link dumpsPythonJson}. */
export interface PythonDumpsOptions {
  /** `separators=(",", ":")`, the minified text SQLite's `json()` stores. */
  compact?: boolean;
  /** `sort_keys=True`. */
  sortKeys?: boolean;
  /** `indent=N` (item separator `,`, key separator `": "`). */
  indent?: number;
}

/** Python float `repr`: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function formatPythonFloatRepr(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  const [mantissaText, exponentText] = Math.abs(value).toExponential().split("e") as [string, string];
  const digits = mantissaText.replace(".", "");
  const decimalPoint = Number(exponentText) + 1; // value = 0.DIGITS × 10^decimalPoint
  let text: string;
  if (decimalPoint > 16 || decimalPoint <= -4) {
    const exponent = decimalPoint - 1;
    const mantissa = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    text = `${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  } else if (decimalPoint <= 0) {
    text = `0.${"0".repeat(-decimalPoint)}${digits}`;
  } else if (decimalPoint >= digits.length) {
    text = `${digits}${"0".repeat(decimalPoint - digits.length)}.0`;
  } else {
    text = `${digits.slice(0, decimalPoint)}.${digits.slice(decimalPoint)}`;
  }
  return sign + text;
}

const ESCAPES: Record<number, string> = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\" };
const NEEDS_ASCII_ESCAPE = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/;

/** A string literal as `json.dumps` writes it with `ensure_ascii=True`. */
export function quotePythonString(text: string): string {
  if (!NEEDS_ASCII_ESCAPE.test(text)) return `"${text}"`;
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 34 && c !== 92) out += text[i];
    else out += ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, "0")}`;
  }
  return `${out}"`;
}

function write(value: unknown, options: PythonDumpsOptions, depth: number, out: string[]): void {
  if (value === null || value === undefined) out.push("null");
  else if (typeof value === "boolean") out.push(value ? "true" : "false");
  else if (typeof value === "number") out.push(Number.isInteger(value) ? String(value) : formatPythonFloatRepr(value));
  else if (typeof value === "bigint") out.push(value.toString());
  else if (typeof value === "string") out.push(quotePythonString(value));
  else if (value instanceof PlainFloat) out.push(formatPythonFloatRepr(value.value));
  else if (Array.isArray(value) || typeof value === "object") {
    const isArray = Array.isArray(value);
    const keys = isArray ? null : Object.keys(value as object);
    if (keys && options.sortKeys) keys.sort(compareCodePoints);
    const count = isArray ? (value as unknown[]).length : keys!.length;
    const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
    if (count === 0) {
      out.push(open + close);
      return;
    }
    const pad = options.indent === undefined ? null : " ".repeat(options.indent);
    const itemSeparator = pad !== null ? `,\n${pad.repeat(depth + 1)}` : options.compact ? "," : ", ";
    const keySeparator = options.compact ? ":" : ": ";
    out.push(pad !== null ? `${open}\n${pad.repeat(depth + 1)}` : open);
    for (let i = 0; i < count; i++) {
      if (i > 0) out.push(itemSeparator);
      if (isArray) write((value as unknown[])[i], options, depth + 1, out);
      else {
        out.push(quotePythonString(keys![i]!), keySeparator);
        write((value as Record<string, unknown>)[keys![i]!], options, depth + 1, out);
      }
    }
    out.push(pad !== null ? `\n${pad.repeat(depth)}${close}` : close);
  } else throw new TypeError(`Cannot serialize a value of type ${typeof value}`);
}

/**
 * Serializes like Python's `json.dumps`.
 *
 * @param value a value from {@link parsePlain} (or plain JS data)
 * @param options `compact`, `sortKeys`, `indent`
 * @returns the text Python would write
 * @example
 * ```ts
 * dumpsPythonJson({ b: 1.0, a: "é" }); // '{"b": 1.0, "a": "\\u00e9"}'
 * ```
 */
export function dumpsPythonJson(value: unknown, options: PythonDumpsOptions = {}): string {
  const out: string[] = [];
  write(value, options, 0, out);
  return out.join("");
}

function numericOf(value: unknown): number | bigint | null {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number" || typeof value === "bigint") return value;
  if (value instanceof PlainFloat) return value.value;
  return null;
}

/**
 * Python `==` on parsed JSON values: `1 == 1.0 == True`, dicts ignore key order, lists do not.
 *
 * @returns true when Python would find the values equal
 */
export function pythonJsonEquals(a: PlainValue | unknown, b: PlainValue | unknown): boolean {
  const x = numericOf(a);
  const y = numericOf(b);
  if (x !== null || y !== null) {
    if (x === null || y === null) return false;
    // eslint-disable-next-line eqeqeq -- number/bigint comparison by value is what is wanted
    return x == y;
  }
  if (a === null || typeof a !== "object" || b === null || typeof b !== "object") return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => pythonJsonEquals(item, other[i]));
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && pythonJsonEquals((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}
