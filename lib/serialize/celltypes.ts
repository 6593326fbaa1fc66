import { SeamlessError } from "../errors.ts";
import { PlainFloat, serializePlain, stringifyPlain } from "./plain-json.ts";

/** The celltypes whose serialization this binary reproduces (cli-spec §1.2). */
export type Celltype =
  | "plain" | "text" | "python" | "ipython" | "yaml" | "str" | "int" | "float" | "bool" | "bytes"
  | "checksum" | "mixed" | "deepcell" | "deepfolder" | "folder" | "module";

const encoder = new TextEncoder();
const TEXT_LIKE = new Set(["text", "python", "ipython", "yaml"]);
const PLAIN_LIKE = new Set(["plain", "deepcell", "deepfolder", "folder", "module"]);

/** Strips all trailing `\n` and adds exactly one: the text celltypes' normal form. */
export function normalizeText(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 10) end--;
  return `${text.slice(0, end)}\n`;
}

/**
 * Serializes a value into the buffer Python Seamless would produce for `celltype`.
 *
 * @param value the value (for `bytes`, a Uint8Array or string)
 * @param celltype the celltype
 * @returns the buffer bytes
 * @throws {SeamlessError} for celltypes or values that cannot be serialized
 * @example
 * ```ts
 * serializeValue("3", "str"); // bytes of '"3"\n'
 * ```
 */
export function serializeValue(value: unknown, celltype: Celltype): Uint8Array {
  if (PLAIN_LIKE.has(celltype)) return serializePlain(value);
  if (TEXT_LIKE.has(celltype)) return encoder.encode(normalizeText(String(value)));
  switch (celltype) {
    case "str":
      return serializePlain(typeof value === "string" ? value : stringifyPlain(value));
    case "int": {
      const n = value instanceof PlainFloat ? value.value : Number(value);
      if (!Number.isFinite(n)) throw new SeamlessError(`Cannot convert ${String(value)} to int`);
      return serializePlain(Math.trunc(n));
    }
    case "float": {
      const n = value instanceof PlainFloat ? value.value : Number(value);
      return serializePlain(new PlainFloat(n));
    }
    case "bool":
      return serializePlain(Boolean(value));
    case "bytes":
      if (value instanceof Uint8Array) return value;
      return encoder.encode(String(value).replace(/\n+$/, ""));
    case "checksum":
      // seamless-core form: bare lower-case hex, no newline (cli-spec §1.2).
      return encoder.encode(String(value).toLowerCase());
    case "mixed":
      return serializeMixedPlain(value);
  }
  throw new SeamlessError(`Unsupported celltype "${celltype}"`);
}

/** `mixed` for pure-plain values: Python json, sort_keys, indent 2, ensure_ascii (cli-spec §1.2). */
function serializeMixedPlain(value: unknown): Uint8Array {
  const ascii = stringifyPlain(value).replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return encoder.encode(`${ascii}\n`);
}
