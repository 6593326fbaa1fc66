/**
 * How many modules a `seamless run` cache hit loads (issue 19 §0: refactors must not add any;
 * every module costs start-up even in the compiled binary). Runs `cli/main.ts` from source with
 * a preload that logs each module loaded, once to fill the cache and once for the hit.
 *
 * Usage: `bun scripts/bench/hit-modules.ts [--base WORKTREE] [--list]`. With `--base`, the
 * same count for another checkout (e.g. `/work/main`) in the same run, and the modules that
 * differ (renamed files show up on both sides).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { removeDir, report, scratchDir } from "./harness.ts";

const PRELOAD = resolve(import.meta.dir, "_module-log-preload.ts");

/** The modules (relative to `root`) that a cache hit of `seamless run` loads from `root`. */
function hitModules(root: string, dir: string): string[] {
  const cache = join(dir, `cache-${Math.random().toString(36).slice(2)}`);
  const logFile = join(dir, "modules.log");
  const run = (log: boolean) => {
    const env = { ...process.env, NO_COLOR: "1", SEAMLESS_CACHE: cache, ...(log ? { SEAMLESS_MODULE_LOG: logFile } : {}) };
    const result = Bun.spawnSync([process.execPath, "--preload", PRELOAD, join(root, "cli", "main.ts"), "run", "wc -l small.txt"], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`seamless run failed in ${root}: ${result.stderr.toString().slice(0, 500)}`);
  };
  run(false);
  rmSync(logFile, { force: true });
  run(true);
  return [...new Set(readFileSync(logFile, "utf8").split("\n").filter(Boolean).map((path) => relative(root, path)))].sort();
}

const dir = scratchDir("hit-modules");
try {
  writeFileSync(join(dir, "small.txt"), "a\nb\nc\n");
  const here = hitModules(resolve(import.meta.dir, "..", ".."), dir);
  const baseIndex = process.argv.indexOf("--base");
  if (baseIndex < 0) {
    report("modules loaded by a cache hit", String(here.length), "informational", true);
  } else {
    const base = hitModules(resolve(process.argv[baseIndex + 1]!), dir);
    report("modules loaded by a cache hit", `${here.length} vs ${base.length} in the base (${(here.length / base.length).toFixed(2)}x)`, "no more than the base", here.length <= base.length);
    for (const path of here.filter((path) => !base.includes(path))) console.log(`  + ${path}`);
    for (const path of base.filter((path) => !here.includes(path))) console.log(`  - ${path}`);
  }
  if (process.argv.includes("--list")) for (const path of here) console.log(`  ${path}`);
} finally {
  removeDir(dir);
}
