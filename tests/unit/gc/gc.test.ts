import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../helpers.ts";
import { ResultCache } from "../../../lib/cache/result-cache.ts";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { projectDirOf, resultCachePathOf } from "../../../lib/buffers/cache-dir.ts";
import { collectGarbage, holdBufferLease, leasedBuffers, leaseDirOf, measureStore, planGarbageCollection, statBuffer } from "../../../lib/gc/mod.ts";
import { membersOfIndexBuffer } from "../../../lib/gc/_references.ts";
import { appendRun } from "../../../lib/runlog/mod.ts";

const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

/** A cache with results tf-0… (plain) and one directory result, used at the given times. */
function makeCache(cacheDir: string, usedAtMs: number[]): { tfs: string[]; results: string[] } {
  const store = new BufferDir(projectDirOf(cacheDir), { layout: "prefix" });
  store.ensureExists();
  const cache = new ResultCache(resultCachePathOf(cacheDir));
  const tfs: string[] = [];
  const results: string[] = [];
  usedAtMs.forEach((timeMs, i) => {
    const value = `result ${i}\n`;
    store.putSync(sha256(value), Buffer.from(value));
    const tf = sha256(`tf ${i}`);
    cache.recordResult(tf, sha256(value), null);
    appendRun(cacheDir, { timeMs, cwd: "/", command: `step ${i}`, source: "run", tfChecksum: tf, resultChecksum: sha256(value), outcome: "executed", elapsedMs: 1, executionMs: 1, savedMs: null, stderr: null, error: null, pid: 1 });
    tfs.push(tf);
    results.push(sha256(value));
  });
  cache.close();
  return { tfs, results };
}

describe("gc", () => {
  test("membersOfIndexBuffer() reads a deep index and nothing else", () => {
    const member = sha256("x");
    expect(membersOfIndexBuffer(Buffer.from(`{\n  "a.txt": "${member}"\n}\n`))).toEqual([member]);
    expect(membersOfIndexBuffer(Buffer.from(`{"a": 1}`))).toEqual([]);
    expect(membersOfIndexBuffer(Buffer.from("hello\n"))).toEqual([]);
  });

  test("planGarbageCollection() --older-than picks the results not used since, oldest first", () => {
    using dir = tempDir();
    const day = 86400_000;
    const now = 100 * day;
    const { tfs } = makeCache(dir.path, [now - 40 * day, now - 1000, now - 35 * day]);
    const plan = planGarbageCollection({ cacheDir: dir.path, olderThanMs: 30 * day, nowMs: now });
    expect(plan.results.map((row) => row.tfChecksum)).toEqual([tfs[0]!, tfs[2]!]);
    expect(plan.results[0]!.reason).toBe("not used for 40 d");
    expect(plan.buffers.length).toBe(2);
  });

  test("a result shared by a kept transformation keeps its buffer", () => {
    using dir = tempDir();
    const now = Date.now();
    const { results } = makeCache(dir.path, [now - 10 * 86400_000]);
    const cache = new ResultCache(resultCachePathOf(dir.path));
    cache.recordResult(sha256("another tf"), results[0]!, null);
    cache.close();
    appendRun(dir.path, { timeMs: now, cwd: "/", command: "again", source: "run", tfChecksum: sha256("another tf"), resultChecksum: results[0]!, outcome: "executed", elapsedMs: 1, executionMs: 1, savedMs: null, stderr: null, error: null, pid: 1 });
    const plan = planGarbageCollection({ cacheDir: dir.path, olderThanMs: 86400_000, nowMs: now });
    expect([plan.results.length, plan.buffers.length]).toEqual([1, 0]);
    const done = collectGarbage(dir.path, plan);
    expect(done.removedResults).toBe(1);
    expect(statBuffer(projectDirOf(dir.path), results[0]!)).toBeDefined();
  });

  test("collectGarbage() leaves a buffer that a result recorded after the plan needs", () => {
    using dir = tempDir();
    const now = Date.now();
    const { results } = makeCache(dir.path, [now - 10 * 86400_000]);
    const plan = planGarbageCollection({ cacheDir: dir.path, olderThanMs: 86400_000, nowMs: now });
    expect(plan.buffers.map((buffer) => buffer.checksum)).toEqual([results[0]!]);
    const cache = new ResultCache(resultCachePathOf(dir.path));
    cache.recordResult(sha256("recorded meanwhile"), results[0]!, null);
    cache.close();
    const done = collectGarbage(dir.path, plan);
    expect([done.removedResults, done.removedBuffers, done.skipped]).toEqual([1, 0, 1]);
    expect(existsSync(join(projectDirOf(dir.path), results[0]!.slice(0, 2), results[0]!))).toBe(true);
  });

  test("leases of dead processes are dropped; live ones hold their buffers", () => {
    using dir = tempDir();
    const lease = holdBufferLease(dir.path, [sha256("held")]);
    mkdirSync(leaseDirOf(dir.path), { recursive: true });
    writeFileSync(join(leaseDirOf(dir.path), "999999999-1.json"), JSON.stringify({ pid: 999_999_999, checksums: [sha256("stale")] }));
    expect([...leasedBuffers(dir.path)]).toEqual([sha256("held")]);
    expect(existsSync(join(leaseDirOf(dir.path), "999999999-1.json"))).toBe(false);
    lease.release();
    expect(leasedBuffers(dir.path).size).toBe(0);
  });

  test("measureStore() counts a small store exactly and estimates a large one", () => {
    using dir = tempDir();
    const store = new BufferDir(join(dir.path, "store"), { layout: "prefix" });
    store.ensureExists();
    for (let i = 0; i < 50; i++) store.putSync(sha256(`b${i}`), Buffer.from(`b${i}`));
    expect(measureStore(store.directory)).toEqual({ buffers: 50, bytes: 140, estimated: false });
    expect(measureStore(store.directory, { exactBelow: 0, sampleFiles: 1 }).estimated).toBe(true);
  });
});
