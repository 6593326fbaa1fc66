/**
 * Shared bits of the benchmarks: the binary, timing of whole commands, temp dirs, and a
 * results table. Benchmarks print ratios against a baseline measured in the same run.
 */
import { mkdtempSync, rmSync } from "node:fs";
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
