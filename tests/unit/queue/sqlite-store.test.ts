import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../helpers.ts";
import { defaultJobSpec, QUEUE_SCHEMA_VERSION, SqliteJobStore } from "../../../lib/queue/mod.ts";

test("SqliteJobStore refuses a corrupt database and leaves it untouched", () => {
  using dir = tempDir();
  const path = join(dir.path, "queue.db");
  const store = SqliteJobStore.open({ path });
  store.insertJobs(Array.from({ length: 200 }, (_, i) => defaultJobSpec(`echo ${i} ${"x".repeat(200)}`)), Date.now());
  store.close();
  const bytes = readFileSync(path);
  const truncated = bytes.subarray(0, Math.floor(bytes.length / 2) + 100);
  writeFileSync(path, truncated);
  expect(() => SqliteJobStore.open({ path })).toThrow(/corrupt|not a queue database/);
  expect(Buffer.compare(readFileSync(path), truncated)).toBe(0);
  writeFileSync(path, "this is not a database at all, just text that is long enough to be a page....");
  expect(() => SqliteJobStore.open({ path })).toThrow(/corrupt|not a queue database/);
  expect(readFileSync(path, "utf8")).toStartWith("this is not a database");
});

test("SqliteJobStore refuses a database held by another store (second daemon)", () => {
  using dir = tempDir();
  const path = join(dir.path, "queue.db");
  const first = SqliteJobStore.open({ path });
  try {
    expect(() => SqliteJobStore.open({ path })).toThrow("in use by another queue daemon");
  } finally {
    first.close();
  }
  SqliteJobStore.open({ path }).close();
});

test("SqliteJobStore opens a version 1 queue database and keeps its jobs", () => {
  using dir = tempDir();
  const path = join(dir.path, "queue.db");
  const store = SqliteJobStore.open({ path });
  store.insertJobs([defaultJobSpec("echo old")], 1000);
  store.close();
  // Version 1 had no label column.
  const db = new Database(path);
  db.run("ALTER TABLE jobs DROP COLUMN label");
  db.run("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
  db.close();
  const reopened = SqliteJobStore.open({ path });
  try {
    const job = reopened.getJob(1)!;
    expect(job.command).toBe("echo old");
    expect(job.label).toBeNull();
    expect(reopened.insertJobs([{ ...defaultJobSpec("new"), label: "L" }], 2000)[0]!.label).toBe("L");
  } finally {
    reopened.close();
  }
  const check = new Database(path, { readonly: true });
  expect((check.query("SELECT value FROM meta WHERE key = 'schema_version'").get() as any).value).toBe(String(QUEUE_SCHEMA_VERSION));
  check.close();
});

test("SqliteJobStore.transition() refuses a transition the stored state does not allow", () => {
  const store = SqliteJobStore.open({ path: ":memory:" });
  const [job] = store.insertJobs([defaultJobSpec("true")], Date.now());
  store.transition(job!.id, "cancel", { finishedAt: 1 });
  expect(() => store.transition(job!.id, "start", {})).toThrow(`Cannot start job ${job!.id}: it is canceled`);
  expect(() => store.transition(77, "start", {})).toThrow("no such job");
  store.close();
});
