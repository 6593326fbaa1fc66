import { describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../helpers.ts";
import { appendRun, detailsPathOf, RunLog, runLogDirOf, type RunEntry } from "../../../lib/runlog/mod.ts";

const TF_A = "a".repeat(64);
const TF_B = "b".repeat(64);
const RESULT = "c".repeat(64);

function entry(overrides: Partial<RunEntry> = {}): RunEntry {
  return {
    timeMs: 1_000_000, cwd: "/work", command: "echo hello", source: "run", tfChecksum: TF_A, resultChecksum: RESULT, outcome: "executed",
    elapsedMs: 20, executionMs: 10, savedMs: null, stderr: null, error: null, pid: 1, ...overrides,
  };
}

describe("run log", () => {
  test("appendRun() lines are folded in once, newest first, by every reader", () => {
    using dir = tempDir();
    appendRun(dir.path, entry({ timeMs: 1000 }));
    appendRun(dir.path, entry({ timeMs: 3000, outcome: "cache hit", savedMs: 10, executionMs: null }));
    const first = new RunLog(dir.path);
    const second = new RunLog(dir.path);
    appendRun(dir.path, entry({ timeMs: 2000, command: "wc -l a.txt" }));
    expect(second.ingestJournal()).toBe(1);
    expect(first.ingestJournal()).toBe(0);
    expect(first.list().map((run) => [run.id, run.timeMs, run.outcome])).toEqual([[2, 3000, "cache hit"], [3, 2000, "executed"], [1, 1000, "executed"]]);
    first.close();
    second.close();
  });

  test("list() filters by --limit, --since and --command", () => {
    using dir = tempDir();
    for (let i = 0; i < 10; i++) appendRun(dir.path, entry({ timeMs: 1000 * i, command: i % 2 ? "wc -l odd.txt" : "echo even" }));
    const log = new RunLog(dir.path);
    expect(log.list({ limit: 3 }).map((run) => run.timeMs)).toEqual([9000, 8000, 7000]);
    expect(log.list({ sinceMs: 7000 }).length).toBe(3);
    expect(log.list({ command: "odd" }).map((run) => run.timeMs)).toEqual([9000, 7000, 5000, 3000, 1000]);
    log.close();
  });

  test("find() takes an id, a transformation or result checksum, or a prefix of one", () => {
    using dir = tempDir();
    appendRun(dir.path, entry({ tfChecksum: TF_A, timeMs: 1 }));
    appendRun(dir.path, entry({ tfChecksum: TF_B, resultChecksum: null, outcome: "failed", timeMs: 2 }));
    const log = new RunLog(dir.path);
    expect(log.find("2")?.tfChecksum).toBe(TF_B);
    expect(log.find(TF_A)?.id).toBe(1);
    expect(log.find("bbbb")?.id).toBe(2);
    expect(log.find(RESULT)?.id).toBe(1);
    expect(log.find("dddd")).toBeNull();
    expect(log.find("7")).toBeNull();
    log.close();
  });

  test("a line cut by a crash is skipped, and the next line is read", () => {
    using dir = tempDir();
    appendRun(dir.path, entry({ timeMs: 1 }));
    appendFileSync(join(runLogDirOf(dir.path), "journal.jsonl"), '{"timeMs": 2, "comm');
    const log = new RunLog(dir.path);
    expect(log.list().length).toBe(1); // the partial line waits for its newline
    appendFileSync(join(runLogDirOf(dir.path), "journal.jsonl"), "\n");
    appendRun(dir.path, entry({ timeMs: 3 }));
    log.ingestJournal();
    expect(log.list().map((run) => run.timeMs)).toEqual([3, 1]);
    log.close();
  });

  test("a rotated journal is read to its end, then removed once quiet", () => {
    using dir = tempDir();
    appendRun(dir.path, entry({ timeMs: 1 }));
    const logDir = runLogDirOf(dir.path);
    const log = new RunLog(dir.path);
    appendRun(dir.path, entry({ timeMs: 2 }));
    renameSync(join(logDir, "journal.jsonl"), join(logDir, "journal.5.jsonl"));
    appendRun(dir.path, entry({ timeMs: 3 }));
    expect(log.ingestJournal()).toBe(2);
    expect(existsSync(join(logDir, "journal.5.jsonl"))).toBe(true);
    utimesSync(join(logDir, "journal.5.jsonl"), new Date(0), new Date(0));
    log.ingestJournal();
    expect(readdirSync(logDir).filter((name) => name.startsWith("journal"))).toEqual(["journal.jsonl"]);
    expect(log.list().map((run) => run.timeMs)).toEqual([3, 2, 1]);
    log.close();
  });

  test("totals() counts outcomes, the hit rate and the time saved, in total and over the last week", () => {
    using dir = tempDir();
    const now = 100 * 86400_000;
    appendRun(dir.path, entry({ timeMs: now - 30 * 86400_000, outcome: "cache hit", savedMs: 5000 }));
    appendRun(dir.path, entry({ timeMs: now - 86400_000, outcome: "cache hit", savedMs: 2000 }));
    appendRun(dir.path, entry({ timeMs: now - 1000, outcome: "executed", executionMs: 2000 }));
    appendRun(dir.path, entry({ timeMs: now, outcome: "failed" }));
    const log = new RunLog(dir.path);
    const totals = log.totals(now);
    expect(totals.runs).toBe(4);
    expect(totals.byOutcome).toEqual({ executed: 1, "cache hit": 2, joined: 0, failed: 1, canceled: 0 });
    expect(totals.hitRate).toBeCloseTo(2 / 3);
    expect([totals.savedMs, totals.savedLastWeekMs]).toEqual([7000, 2000]);
    log.close();
  });

  test("appendRun() writes a transformation's details once", () => {
    using dir = tempDir();
    let built = 0;
    const details = () => {
      built++;
      return { dict: { __language__: "bash" }, texts: {} };
    };
    appendRun(dir.path, entry(), details);
    appendRun(dir.path, entry(), details);
    expect(built).toBe(1);
    expect(existsSync(detailsPathOf(dir.path, TF_A))).toBe(true);
  });

  test("appendRun() never throws: an unwritable log loses the entry, not the run", () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "run-log"), "a file where the directory should be");
    expect(appendRun(dir.path, entry())).toBe(false);
  });
});
