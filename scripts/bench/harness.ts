/**
 * Shared bits of the benchmarks: the binary, timing of whole commands, temp dirs, and a
 * results table. Benchmarks print ratios against a baseline measured in the same run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const BINARY = resolve(import.meta.dir, "..", "..", "dist", "seamless");

/** A scratch directory under $BENCH_DIR or the system temp dir. */
export function scratchDir(name: string): string {
  return mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), `seamless-bench-${name}-`));
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

/** Runs a command to completion; returns wall milliseconds. Throws on a non-zero exit. */
export function timeCommand(argv: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): number {
  const started = performance.now();
  const result = Bun.spawnSync(argv, { cwd: options.cwd, env: options.env ?? process.env, stdout: "ignore", stderr: "pipe" });
  const elapsed = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${result.exitCode}): ${result.stderr.toString().slice(0, 500)}`);
  return elapsed;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median wall time of `runs` runs (after `warmup` unmeasured ones). */
export function medianTime(argv: string[], runs: number, options: { cwd?: string; env?: Record<string, string | undefined>; warmup?: number } = {}): number {
  for (let i = 0; i < (options.warmup ?? 1); i++) timeCommand(argv, options);
  return median(Array.from({ length: runs }, () => timeCommand(argv, options)));
}

/** One line of a benchmark's verdict. */
export function report(name: string, measured: string, target: string, ok: boolean): void {
  console.log(`${ok ? "PASS" : "MISS"}  ${name.padEnd(46)} ${measured.padEnd(40)} target: ${target}`);
}

/** Writes `size` bytes of pseudo-random data quickly (not crypto-grade). */
export async function makeLargeFile(path: string, size: number): Promise<void> {
  const chunk = new Uint8Array(4 * 1024 * 1024);
  crypto.getRandomValues(chunk.subarray(0, 65536));
  for (let i = 65536; i < chunk.length; i += 65536) chunk.copyWithin(i, 0, 65536);
  const writer = Bun.file(path).writer();
  for (let written = 0; written < size; written += chunk.length) {
    const view = new DataView(chunk.buffer);
    view.setUint32(0, written / chunk.length); // keep chunks distinct
    writer.write(chunk.subarray(0, Math.min(chunk.length, size - written)));
  }
  await writer.end();
}

/** Starts a server process (`seamless hashserver`, `database`, …) on port 0 with a status file; resolves once it says running. */
export async function startWithStatusFile(argv: string[], dir: string, env: Record<string, string | undefined>): Promise<{ port: number; stop: () => void }> {
  const statusFile = join(dir, `status-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(statusFile, "{}");
  const child = Bun.spawn([...argv, "--port", "0", "--status-file", statusFile], { cwd: dir, env, stdout: "ignore", stderr: "inherit" });
  for (let i = 0; i < 400; i++) {
    const status = JSON.parse(readFileSync(statusFile, "utf8"));
    if (status.status === "running") return { port: status.port, stop: () => child.kill() };
    await Bun.sleep(25);
  }
  child.kill();
  throw new Error(`${argv.join(" ")} did not start`);
}

/**
 * Times commands in alternation (the order flips every round), so that a shared machine's
 * changing load falls on all of them alike.
 *
 * @returns the median wall milliseconds of each command, in the order given
 */
export function alternatingMedians(commands: { argv: string[]; env?: Record<string, string | undefined> }[], rounds: number, cwd: string): number[] {
  for (const command of commands) timeCommand(command.argv, { cwd, env: command.env });
  const times: number[][] = commands.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = commands.map((_, i) => i);
    if (round % 2) order.reverse();
    for (const i of order) times[i]!.push(timeCommand(commands[i]!.argv, { cwd, env: commands[i]!.env }));
  }
  return times.map(median);
}
