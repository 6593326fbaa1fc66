/** Test harness: disposable temp dirs and the compiled binary run as a user would run it. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const BINARY = resolve(import.meta.dir, "..", "dist", "seamless");

/** A fresh temp directory, removed by the returned dispose function. */
export function tempDir(prefix = "seamless-test-"): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Makes a buffer directory (prefix layout) look large to a size estimate from one prefix
 * directory: 100 names in `00` of 256 stand for a store of ~25,600 buffers.
 */
export function makeStoreLookLarge(storeDirectory: string): void {
  mkdirSync(join(storeDirectory, "00"), { recursive: true });
  for (let i = 0; i < 100; i++) writeFileSync(join(storeDirectory, "00", `00${String(i).padStart(62, "0")}`), "");
}

/** The environment a test run gets: no stray SEAMLESS_* or HASHSERVER_*, NO_COLOR, a private cache. */
export function scrubbedEnv(cacheDir: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("SEAMLESS_") && !key.startsWith("HASHSERVER_")) env[key] = value;
  }
  return { ...env, NO_COLOR: "1", SEAMLESS_CACHE: cacheDir, ...extra };
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `dist/seamless` with arguments in `cwd`. */
export async function runSeamless(args: string[], options: { cwd: string; env: Record<string, string>; stdin?: string }): Promise<CliResult> {
  const child = Bun.spawn([BINARY, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, stdout, stderr };
}

/**
 * A small tmpfs of `sizeMb` MiB mounted in a fresh temp directory (to fill a disk for real),
 * or the reason it cannot be mounted here (not root, no mount in a container): the caller
 * skips and shows that reason.
 */
export function mountSmallTmpfs(sizeMb: number): { path: string; [Symbol.dispose](): void } | { reason: string } {
  const path = mkdtempSync(join(tmpdir(), "seamless-tmpfs-"));
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", path], { stderr: "pipe" });
  if (mounted.exitCode !== 0) {
    rmSync(path, { recursive: true, force: true });
    return { reason: `cannot mount a tmpfs (${new TextDecoder().decode(mounted.stderr).trim() || `exit ${mounted.exitCode}`})` };
  }
  return {
    path,
    [Symbol.dispose]: () => {
      Bun.spawnSync(["umount", "-l", path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Why no tmpfs can be mounted here ("" when one can); printed once, so a skip is visible. */
export function tmpfsUnavailable(): string {
  const probe = mountSmallTmpfs(1);
  if ("reason" in probe) {
    console.warn(`full-disk tests skipped: ${probe.reason}`);
    return probe.reason;
  }
  probe[Symbol.dispose]();
  return "";
}

/** Every buffer in a prefix-layout store hashes to its name (the store's first invariant). */
export function storeIsSound(storeDirectory: string): { ok: boolean; bad: string[] } {
  const bad: string[] = [];
  const { readdirSync, readFileSync, statSync } = require("node:fs") as typeof import("node:fs");
  for (const prefix of readdirSync(storeDirectory)) {
    const dir = join(storeDirectory, prefix);
    if (prefix.length !== 2 || !statSync(dir).isDirectory()) continue;
    for (const name of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, name));
      if (!/^[0-9a-f]{64}$/.test(name) || new Bun.CryptoHasher("sha256").update(bytes).digest("hex") !== name) bad.push(`${prefix}/${name}`);
    }
  }
  return { ok: bad.length === 0, bad };
}

/**
 * Pids of live (not zombie) processes whose command line, arguments joined by spaces, is `text`
 * (or contains it, with `exact` false): how tests find what a command left running.
 */
export function processesWithCommandLine(text: string, exact = true): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const commandLine = readFileSync(`/proc/${name}/cmdline`, "latin1").replaceAll("\0", " ").trim();
      if (exact ? commandLine === text : commandLine.includes(text)) found.push(Number(name));
    } catch {}
  }
  return found;
}

/**
 * A stat-cache clock a second ahead of the real one: files a test has just written count as
 * changed well before they were hashed (past the racy-timestamp margin), with no waiting.
 */
export function clockPastRacyMargin(): number {
  return Date.now() + 1000;
}

/** Waits (polling every 20 ms) until `check()` holds; throws naming `what` after `limitMs`. */
export async function waitFor(what: string, check: () => boolean, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Sends SIGKILL to each pid (those already gone are skipped). */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}
