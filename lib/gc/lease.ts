/**
 * Buffer leases: a process that needs buffers for a while (a queued job, a jobserver request)
 * names them in `leases/<pid>-<n>.json`, and `seamless gc` leaves them alone while that
 * process lives. Running `seamless run`s need none: their single-flight lock names their
 * transformation, whose buffers gc reads from it.
 * @module
 */
import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import { isProcessAlive, processStartTicks } from "../process/process-tree.ts";

let leaseCounter = 0;

/** The directory of the leases of a cache directory. */
export function leaseDirOf(cacheDir: string): string {
  return join(cacheDir, "leases");
}

/** A held lease. */
export interface BufferLease {
  release(): void;
}

/**
 * Holds buffers against `seamless gc` until released (or this process ends).
 *
 * @param cacheDir the cache directory
 * @param checksums the buffers needed
 * @returns the lease
 * @example
 * ```ts
 * const lease = holdBufferLease(cacheDir, [inputChecksum]);
 * try { await runJob(); } finally { lease.release(); }
 * ```
 */
export function holdBufferLease(cacheDir: string, checksums: Checksum[]): BufferLease {
  const dir = leaseDirOf(cacheDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${process.pid}-${++leaseCounter}.json`);
  // The start time ties the lease to this process, not to a later one that reuses its pid.
  writeFileAtomic(path, JSON.stringify({ pid: process.pid, start: processStartTicks(process.pid), checksums }));
  return { release: () => rmSync(path, { force: true }) };
}

/** Whether a process lives (a zombie does not: it holds nothing any more). */
export function processIsAlive(pid: number, startTicks: string | null = null): boolean {
  return isProcessAlive(pid, startTicks);
}

/** The buffers held by the leases of live processes; leases of dead ones are removed. */
export function leasedBuffers(cacheDir: string): Set<Checksum> {
  const held = new Set<Checksum>();
  const dir = leaseDirOf(cacheDir);
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith(".json") && !name.startsWith("."));
  } catch {
    return held;
  }
  for (const name of names) {
    try {
      const lease = JSON.parse(readFileSync(join(dir, name), "utf8")) as { pid: number; start?: string | null; checksums: Checksum[] };
      if (!processIsAlive(lease.pid, typeof lease.start === "string" ? lease.start : null)) {
        rmSync(join(dir, name), { force: true });
        continue;
      }
      for (const checksum of lease.checksums) held.add(checksum);
    } catch {
      // Unreadable: written by a newer version, or half gone. Its buffers cannot be known, so
      // nothing is lost by skipping it only if it is not ours to judge; keep it and move on.
    }
  }
  return held;
}
