import { expect, test } from "bun:test";
import { appendFileSync, existsSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../helpers.ts";
import { appendEofRecord, appendQueueRecord, encodeQueueRecord, EOF_RECORD, pythonJsonIndent, QueueFileReader } from "../../../lib/queue/queue-file.ts";
import { createMemoryLog } from "../../../lib/log.ts";

test("pythonJsonIndent() writes json.dumps(indent=2) with ensure_ascii and insertion order", () => {
  expect(pythonJsonIndent({ b: 1, a: [true, null, "x"], e: {}, l: [] })).toBe('{\n  "b": 1,\n  "a": [\n    true,\n    null,\n    "x"\n  ],\n  "e": {},\n  "l": []\n}');
  expect(pythonJsonIndent("café ☃ 😀 \u007f \t\"\\")).toBe('"caf\\u00e9 \\u2603 \\ud83d\\ude00 \\u007f \\t\\"\\\\"');
  expect(pythonJsonIndent({ "\u2028": "\u0001" })).toBe('{\n  "\\u2028": "\\u0001"\n}');
});

test("EOF record and NUL terminator are Python's bytes", () => {
  expect(EOF_RECORD).toBe('{"queue_command": "EOF"}\0');
  expect(Buffer.from(encodeQueueRecord({ queue_command: "EOF" })).toString()).toBe('{\n  "queue_command": "EOF"\n}\0');
});

test("QueueFileReader keeps an incomplete record for the next read (race quirk fixed)", () => {
  using dir = tempDir();
  const path = join(dir.path, "q");
  const record = Buffer.from(encodeQueueRecord({ queue_command: "SUBMIT", original_command: "x" }));
  writeFileSync(path, record.subarray(0, 10));
  const reader = new QueueFileReader(path);
  expect(reader.read()).toEqual([]);
  appendFileSync(path, Buffer.concat([record.subarray(10), Buffer.from("{bad\0"), Buffer.from([0xff, 0]), Buffer.from('{"a": 1}\0'), Buffer.from(EOF_RECORD)]));
  expect(reader.read()).toEqual([
    { kind: "record", record: { queue_command: "SUBMIT", original_command: "x" } },
    { kind: "error", message: "Command is not valid JSON" },
    { kind: "error", message: "Command is not valid text" },
    { kind: "error", message: "Command is not a valid queue command" },
    { kind: "record", record: { queue_command: "EOF" } },
  ]);
  expect(reader.read()).toEqual([]);
});

test("appendQueueRecord() takes and releases the lock, and breaks a stale one", async () => {
  using dir = tempDir();
  const path = join(dir.path, "q");
  const lock = `${path}.LOCK`;
  writeFileSync(lock, "");
  const old = new Date(Date.now() - 60_000);
  utimesSync(lock, old, old);
  const { log, lines: said } = createMemoryLog();
  await appendQueueRecord(path, { queue_command: "SUBMIT" }, log);
  expect(said).toEqual([`Stale lock on ${path}, breaking it...`]);
  expect(existsSync(lock)).toBe(false);
  expect(readFileSync(path, "utf8")).toBe('{\n  "queue_command": "SUBMIT"\n}\0');
  expect(appendEofRecord(path)).toBe(true);
  expect(readFileSync(path, "utf8")).toEndWith(`}\0${EOF_RECORD}`);
});
