/**
 * What ending every process of a command costs (issue 17): the /proc scans of the process tree,
 * a cache miss against bare bash, a cache hit against `--version`, and, with
 * `SEAMLESS_BASELINE_BINARY=<an older dist/seamless>`, both against that binary in the same run.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createProcessTree, killProcessTree, listProcessTree, reapAbandonedTrees } from "../../lib/process/process-tree.ts";
import { acquireTransformationLock } from "../../lib/execute/single-flight.ts";
import { BINARY, median, medianTime, removeDir, report, scratchDir, timeCommand } from "./harness.ts";

function timeIt(runs: number, work: () => void): number {
  work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    work();
    times.push(performance.now() - started);
  }
  return median(times);
}

const processes = Bun.spawnSync(["sh", "-c", "ls /proc | grep -c '^[0-9]'"]).stdout.toString().trim();
const tree = createProcessTree();
const child = Bun.spawn(["bash", "-c", "sleep 100 & sleep 100"], { env: { ...process.env, ...tree.env }, detached: true });
tree.attach(child.pid);
const list = timeIt(21, () => listProcessTree(tree));
const reap = timeIt(21, () => reapAbandonedTrees());
const started = performance.now();
await killProcessTree(tree, { graceMs: 0 });
const kill = performance.now() - started;
report(`listProcessTree, ${processes} processes`, `${list.toFixed(2)} ms (median of 21)`, "informational", true);
report("reapAbandonedTrees (reads every environ)", `${reap.toFixed(2)} ms`, "informational", true);
report("killProcessTree of a 3-process job", `${kill.toFixed(1)} ms`, "informational", true);

const dir = scratchDir("hangs");
try {
  const lockTimes: number[] = [];
  for (let i = 0; i < 21; i++) {
    const lockStarted = performance.now();
    (await acquireTransformationLock(join(dir, "locks"), "a".repeat(64)))!.release();
    lockTimes.push(performance.now() - lockStarted);
  }
  report("flock lock, first (loads bun:ffi) / median", `${lockTimes[0]!.toFixed(1)} / ${median(lockTimes).toFixed(2)} ms`, "informational", true);

  const binaries: [string, string][] = [["this build", BINARY]];
  if (process.env.SEAMLESS_BASELINE_BINARY) binaries.push(["baseline", process.env.SEAMLESS_BASELINE_BINARY]);
  for (const [name, binary] of binaries) {
    const env = { ...process.env, SEAMLESS_CACHE: join(dir, `cache-${name.replace(" ", "-")}`), TMPDIR: dir };
    writeFileSync(join(dir, "small.txt"), "a\nb\nc\n");
    const version = medianTime([binary, "--version"], 21, { cwd: dir, env });
    const hit = medianTime([binary, "run", "wc -l small.txt"], 21, { cwd: dir, env, warmup: 2 });
    const misses: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 21; i++) {
      misses.push(timeCommand([binary, "run", `echo miss-${i}-${Date.now()}`], { cwd: dir, env }));
      bare.push(timeCommand(["bash", "-c", `echo miss-${i}`], { cwd: dir, env }));
    }
    report(`${name}: cache hit`, `${hit.toFixed(1)} ms = ${(hit / version).toFixed(2)}x --version`, "<= 2.5x --version", hit / version <= 2.5);
    report(`${name}: cache miss over bare bash`, `${(median(misses) - median(bare)).toFixed(1)} ms (${median(misses).toFixed(1)} vs ${median(bare).toFixed(1)})`, "<= 40 ms", median(misses) - median(bare) <= 40);
  }
} finally {
  removeDir(dir);
}
