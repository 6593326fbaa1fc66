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
