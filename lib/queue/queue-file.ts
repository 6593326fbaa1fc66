/**
 * The queue file of Python Seamless (cli-spec §7): NUL-terminated JSON records appended by
 * `seamless run --qsubmit` under a `.LOCK` file, an EOF record from `seamless queue-finish`,
 * and the reader of `seamless queue` (no verb).
 *
 * QUIRK fixed (cli-spec §7, §11.10): seamless-queue moves its offset past a record that is
 * still being written and loses it; {@link QueueFileReader} keeps the incomplete tail and reads
 * it again when the rest has arrived.
 * @module
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, rmSync, statSync, utimesSync, writeSync } from "node:fs";
import type { Log } from "../log.ts";

/** Python `json.dumps(value, indent=2)` (ensure_ascii, insertion order, `", "`-free pretty form). */
export function pythonJsonIndent(value: unknown, indent = 2, level = 0): string {
  const pad = " ".repeat(indent * (level + 1));
  const end = " ".repeat(indent * level);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((item) => pad + pythonJsonIndent(item, indent, level + 1)).join(",\n")}\n${end}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    return `{\n${entries.map(([key, item]) => `${pad}${pythonString(key)}: ${pythonJsonIndent(item, indent, level + 1)}`).join(",\n")}\n${end}}`;
  }
  if (typeof value === "string") return pythonString(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    return JSON.stringify(value);
  }
  return JSON.stringify(value) ?? "null";
}

/** A JSON string as Python writes it with `ensure_ascii=True`: everything outside ' '..'~' escaped. */
function pythonString(text: string): string {
  return JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The EOF record exactly as Python writes it (`json.dumps` default separators) plus NUL. */
export const EOF_RECORD = '{"queue_command": "EOF"}\0';

/** The bytes of one record in the queue file. */
export function encodeQueueRecord(record: unknown): Uint8Array {
  return Buffer.from(`${pythonJsonIndent(record)}\0`, "utf8");
}

const LOCK_STALE_MS = 30_000;

/**
 * Appends a record under `<queue>.LOCK` (cli-spec §7 "Submit side"). The lock is created with
 * O_EXCL, so two submitters never both hold it (Python's check-then-touch can race); a lock
 * older than 30 s is broken with a message, as Python does.
 */
export async function appendQueueRecord(queueFile: string, record: unknown, log: Log): Promise<void> {
  const lock = `${queueFile}.LOCK`;
  for (;;) {
    try {
      closeSync(openSync(lock, "wx"));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let age = 0;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue;
    }
    if (age > LOCK_STALE_MS) {
      log.message(1, `Stale lock on ${queueFile}, breaking it...`);
      const now = new Date();
      try {
        utimesSync(lock, now, now);
      } catch {
        continue;
      }
      break;
    }
    await Bun.sleep(1000);
  }
  try {
    const fd = openSync(queueFile, "a");
    try {
      const bytes = encodeQueueRecord(record);
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Appends the EOF record (no lock, as Python does); returns whether the file existed before. */
export function appendEofRecord(queueFile: string): boolean {
  const existed = existsSync(queueFile);
  const fd = openSync(queueFile, "a");
  try {
    writeSync(fd, EOF_RECORD);
  } finally {
    closeSync(fd);
  }
  return existed;
}

/** One parsed piece of a queue file. */
export type QueueFileEntry =
  | { kind: "record"; record: Record<string, unknown> & { queue_command: string } }
  | { kind: "error"; message: string };

/** Reads complete records from a growing queue file; an incomplete tail waits for the next read. */
export class QueueFileReader {
  #offset = 0;
  #pending: Buffer = Buffer.alloc(0);

  constructor(readonly path: string) {}

  /** The records completed since the last call. */
  read(): QueueFileEntry[] {
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch {
      return [];
    }
    let fresh: Buffer;
    try {
      const size = fstatSync(fd).size;
      if (size <= this.#offset) return [];
      fresh = Buffer.alloc(size - this.#offset);
      const n = readSync(fd, fresh, 0, fresh.length, this.#offset);
      fresh = fresh.subarray(0, n);
      this.#offset += n;
    } finally {
      closeSync(fd);
    }
    const data = this.#pending.length ? Buffer.concat([this.#pending, fresh]) : fresh;
    const last = data.lastIndexOf(0);
    if (last < 0) {
      this.#pending = data;
      return [];
    }
    this.#pending = Buffer.from(data.subarray(last + 1));
    const entries: QueueFileEntry[] = [];
    let start = 0;
    while (start <= last) {
      const nul = data.indexOf(0, start);
      const piece = data.subarray(start, nul);
      start = nul + 1;
      if (piece.length === 0) continue;
      entries.push(parseQueueRecord(piece));
    }
    return entries;
  }
}

/** Parses one record with seamless-queue's error messages. */
export function parseQueueRecord(bytes: Uint8Array): QueueFileEntry {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { kind: "error", message: "Command is not valid text" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: "error", message: "Command is not valid JSON" };
  }
  if (!value || typeof value !== "object" || Array.isArray(value) || !("queue_command" in value)) {
    return { kind: "error", message: "Command is not a valid queue command" };
  }
  return { kind: "record", record: value as Record<string, unknown> & { queue_command: string } };
}
