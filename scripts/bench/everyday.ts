/**
 * Issue 23 §5: the run log and the cache-care commands on a large cache: 100,000 runs in the
 * log and BENCH_BUFFERS buffers (default 1,000,000; 100,000 of them results, half of those
 * directory results with a member). Measures `log --limit 50`, `stats`, `explain` beyond
 * building the transformation (`run --dry`), `gc --dry-run` (first, reading every result once,
 * and again), and what the run log adds to a cache hit (the same hit with SEAMLESS_RUN_LOG=off,
 * interleaved, in the same run).
 *
 * The machine these numbers come from is shared (load averages of 10–16 on 2 cores are usual),
 * which stretches wall times several-fold, so each command's CPU time (user + system, from the
 * child's rusage) is measured beside its wall time, and the targets are judged on CPU time.
 */
import { Database } from "bun:sqlite";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteResultCache } from "../../lib/cache/result-cache.ts";
import { appendRun, type RunEntry } from "../../lib/runlog/mod.ts";
import { BINARY, median, removeDir, report, scratchDir, timeCommand } from "./harness.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 100_000);
const BUFFERS = Number(process.env.BENCH_BUFFERS ?? 1_000_000);
const RESULTS = Math.min(100_000, Math.floor(BUFFERS / 4));

/** One command's wall and CPU milliseconds. */
function measureOnce(argv: string[], env: Record<string, string | undefined>, cwd: string): { wallMs: number; cpuMs: number } {
  const started = performance.now();
  const result = Bun.spawnSync(argv, { cwd, env, stdout: "ignore", stderr: "pipe" });
  const wallMs = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${result.stderr.toString().slice(0, 400)}`);
  return { wallMs, cpuMs: Number(result.resourceUsage.cpuTime.total) / 1000 };
}

/** Medians of wall and CPU milliseconds over `runs` runs, after one warm-up. */
function measure(argv: string[], runs: number, env: Record<string, string | undefined>, cwd: string, warmup = 1): { wallMs: number; cpuMs: number } {
  for (let i = 0; i < warmup; i++) measureOnce(argv, env, cwd);
  const samples = Array.from({ length: runs }, () => measureOnce(argv, env, cwd));
  return { wallMs: median(samples.map((s) => s.wallMs)), cpuMs: median(samples.map((s) => s.cpuMs)) };
}

const shown = (m: { wallMs: number; cpuMs: number }) => `${m.cpuMs.toFixed(1)} ms CPU (${m.wallMs.toFixed(1)} ms wall)`;

const sha256 = (data: string) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

const dir = scratchDir("everyday");
try {
  const cache = join(dir, "cache");
  const store = join(cache, "__TOPLEVEL__");
  const env = { ...process.env, SEAMLESS_CACHE: cache, NO_COLOR: "1" };
  mkdirSync(store, { recursive: true });
  writeFileSync(join(store, ".HASHSERVER_PREFIX"), "1\n");
  for (let byte = 0; byte < 256; byte++) mkdirSync(join(store, byte.toString(16).padStart(2, "0")), { recursive: true });
  const put = (checksum: string, data: string) => writeFileSync(join(store, checksum.slice(0, 2), checksum), data);

  // Results: half plain, half directory results with one member each.
  let started = performance.now();
  const rows: [string, string][] = [];
  let written = 0;
  for (let i = 0; i < RESULTS; i++) {
    const tf = sha256(`tf-${i}`);
    let result: string;
    if (i % 2) {
      const member = `member ${i}\n`;
      const memberChecksum = sha256(member);
      put(memberChecksum, member);
      const index = `{\n  "out-${i}.txt": "${memberChecksum}"\n}\n`;
      result = sha256(index);
      put(result, index);
      written += 2;
    } else {
      const value = `result ${i}\n`;
      result = sha256(value);
      put(result, value);
      written++;
    }
    rows.push([tf, result]);
  }
  // Inputs and everything else: one-byte files under their (unverified) names.
  for (let i = 0; written < BUFFERS; i++, written++) put(sha256(`filler-${i}`), "x");
  const buildSeconds = (performance.now() - started) / 1000;
  new SqliteResultCache(join(store, "seamless.db")).close();
  const db = new Database(join(store, "seamless.db"));
  db.transaction(() => {
    const insert = db.query(`INSERT INTO "transformation" ("checksum", "result") VALUES (?, ?)`);
    const reverse = db.query(`INSERT INTO "rev_transformation" ("result", "checksum") VALUES (?, ?)`);
    for (const [tf, result] of rows) {
      insert.run(tf, result);
      reverse.run(result, tf);
    }
  })();
  db.close();
  console.log(`built ${written} buffers (${RESULTS} results) in ${buildSeconds.toFixed(1)} s`);

  // A real command with a hit, then 100k logged runs (appended as runs append them).
  writeFileSync(join(dir, "small.txt"), "a\nb\nc\n");
  timeCommand([BINARY, "run", "wc -l small.txt"], { cwd: dir, env });
  const now = Date.now();
  started = performance.now();
  for (let i = 0; i < RUNS; i++) {
    const row = rows[i % rows.length]!;
    const entry: RunEntry = {
      timeMs: now - (RUNS - i) * 1000, cwd: dir, command: i % 10 === 0 ? "wc -l small.txt" : `step-${i % 500} data-${i % 37}.csv`, source: "run",
      tfChecksum: row[0], resultChecksum: row[1], outcome: i % 3 ? "cache hit" : "executed", elapsedMs: 9, executionMs: i % 3 ? null : 2000,
      savedMs: i % 3 ? 2000 : null, stderr: i % 3 ? null : "some warning\n", error: null, pid: 1,
    };
    appendRun(cache, entry);
  }
  const appendMs = (performance.now() - started) / RUNS;
  report("append one run to the journal (in process)", `${(appendMs * 1000).toFixed(1)} µs`, "informational", true);
  const version = measure([BINARY, "--version"], 11, env, dir);
  report("seamless --version (reference)", shown(version), "informational", true);
  const firstRead = measureOnce([BINARY, "log", "--limit", "50"], env, dir);
  report(`first log --limit 50 (folds ${RUNS} journal lines in)`, shown(firstRead), "informational (once)", true);

  const log = measure([BINARY, "log", "--limit", "50"], 11, env, dir);
  report(`log --limit 50 (${RUNS} runs)`, shown(log), "<= 50 ms", log.cpuMs <= 50);
  const stats = measure([BINARY, "stats"], 7, env, dir);
  report(`stats (${RUNS} runs, ${written} buffers)`, shown(stats), "<= 200 ms", stats.cpuMs <= 200);
  const dry = measure([BINARY, "run", "--dry", "wc -l small.txt"], 11, env, dir);
  const explain = measure([BINARY, "explain", "wc -l small.txt"], 11, env, dir);
  const beyond = explain.cpuMs - dry.cpuMs;
  report("explain beyond building the transformation", `${beyond.toFixed(1)} ms CPU (explain ${shown(explain)}; run --dry ${shown(dry)})`, "<= 100 ms", beyond <= 100);
  const gcFirst = measureOnce([BINARY, "gc", "--dry-run", "--max-size", "1"], env, dir);
  report(`gc --dry-run, first (reads ${RESULTS} results once)`, shown(gcFirst), "<= 5 s", gcFirst.cpuMs <= 5000);
  const gcAgain = measure([BINARY, "gc", "--dry-run", "--max-size", "1"], 3, env, dir, 0);
  report(`gc --dry-run, again (${written} buffers)`, shown(gcAgain), "<= 5 s", gcAgain.cpuMs <= 5000);

  // The run log's cost on a hit: the same hit with the log on and off, interleaved.
  const off = { ...env, SEAMLESS_RUN_LOG: "off" };
  const hit = [BINARY, "run", "wc -l small.txt"];
  for (let i = 0; i < 3; i++) {
    measureOnce(hit, env, dir);
    measureOnce(hit, off, dir);
  }
  const withLog: { wallMs: number; cpuMs: number }[] = [];
  const withoutLog: { wallMs: number; cpuMs: number }[] = [];
  for (let i = 0; i < 101; i++) {
    withLog.push(measureOnce(hit, env, dir));
    withoutLog.push(measureOnce(hit, off, dir));
  }
  const cpuOverhead = median(withLog.map((s) => s.cpuMs)) - median(withoutLog.map((s) => s.cpuMs));
  const wallOverhead = median(withLog.map((s) => s.wallMs)) - median(withoutLog.map((s) => s.wallMs));
  report("run log on a cache hit (median of 101, interleaved)",
    `${cpuOverhead.toFixed(2)} ms CPU, ${wallOverhead.toFixed(2)} ms wall (hit ${median(withLog.map((s) => s.cpuMs)).toFixed(1)} vs ${median(withoutLog.map((s) => s.cpuMs)).toFixed(1)} ms CPU)`,
    "<= 1 ms", cpuOverhead <= 1);
} finally {
  removeDir(dir);
}
