/**
 * What `seamless gc` removes (issue 23 §3): the least recently used results, and the buffers
 * only they need (the result buffer and, for a directory result, its members). Never a buffer
 * a kept result needs, one a running transformation needs (its single-flight lock names it),
 * or one a lease holds. Inputs, transformation and code buffers are not results and stay.
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import { BufferDir } from "../buffers/bufferdir.ts";
import { projectDirOf } from "../buffers/cache-dir.ts";
import { lockDirOf } from "../execute/compute.ts";
import { hasRunLog, RunLog } from "../runlog/run-log.ts";
import { measureStore, statBuffer, type StoredBuffer } from "./inventory.ts";
import { leasedBuffers, processIsAlive } from "./lease.ts";
import { MemberIndex, pinsOfTransformationBuffer } from "./_references.ts";
import { listResultRows, openResultRows, type ResultRow } from "./_result-rows.ts";

/** Limits of a collection; at least one is needed for anything to go. */
export interface GcOptions {
  cacheDir: string;
  /** Remove least recently used results until the buffers take at most this many bytes. */
  maxSizeBytes?: number;
  /** Remove results not used for this long. */
  olderThanMs?: number;
  nowMs?: number;
}

/** A result chosen to go. */
export interface GcResult extends ResultRow {
  lastUsedMs: number;
  reason: string;
}

/** A buffer chosen to go. */
export interface GcBuffer {
  checksum: Checksum;
  bytes: number;
  /** Which removed result needed it, and how. */
  reason: string;
  paths: string[];
}

/** The plan of a collection. */
export interface GcPlan {
  results: GcResult[];
  buffers: GcBuffer[];
  /** Results and buffers before. */
  resultCount: number;
  bufferCount: number;
  bytesBefore: number;
  bytesAfter: number;
  /** The store's size was estimated from a sample (a large store). */
  sizeEstimated: boolean;
  /** Buffers a removed result needed that stay, because something else holds them. */
  keptForOthers: number;
  /** --max-size could not be reached by removing results. */
  targetMissed: boolean;
}

/** Buffers that running transformations need: the pins of every locked transformation (and the members of directory pins). */
export function buffersOfRunningTransformations(cacheDir: string, store: BufferDir, members: MemberIndex, bufferOf: (checksum: Checksum) => StoredBuffer | undefined): Set<Checksum> {
  const held = new Set<Checksum>();
  let names: string[] = [];
  try {
    names = readdirSync(lockDirOf(cacheDir)).filter((name) => name.endsWith(".lock"));
  } catch {}
  for (const name of names) {
    const tfChecksum = name.slice(0, -".lock".length);
    let pid = Number.NaN;
    try {
      pid = Number(readFileSync(`${lockDirOf(cacheDir)}/${name}`, "utf8"));
    } catch {
      continue;
    }
    if (Number.isInteger(pid) && pid > 0 && !processIsAlive(pid)) continue;
    held.add(tfChecksum);
    let bytes: Uint8Array | null = null;
    try {
      bytes = store.getSync(tfChecksum);
    } catch {}
    if (!bytes) continue;
    const pins = pinsOfTransformationBuffer(bytes);
    for (const pin of pins) held.add(pin.checksum);
    const directories = members.membersOf(pins.filter((pin) => pin.directory).map((pin) => pin.checksum), store, bufferOf);
    for (const list of directories.values()) for (const checksum of list) held.add(checksum);
  }
  return held;
}

/** The buffers each result needs: itself, and the members of a directory result. */
export function neededBuffers(rows: ResultRow[], members: Map<Checksum, Checksum[]>): Map<Checksum, number> {
  const counts = new Map<Checksum, number>();
  const add = (checksum: Checksum) => counts.set(checksum, (counts.get(checksum) ?? 0) + 1);
  for (const row of rows) {
    add(row.resultChecksum);
    for (const member of members.get(row.resultChecksum) ?? []) add(member);
  }
  return counts;
}

/** Where a cache directory's buffers are. */
export function cacheStoreOf(cacheDir: string): BufferDir {
  return new BufferDir(projectDirOf(cacheDir), { layout: "prefix" });
}

/**
 * Plans a collection; removes nothing.
 *
 * @param options the limits
 * @returns what would go, and why
 */
export function planGarbageCollection(options: GcOptions): GcPlan {
  const { cacheDir } = options;
  const nowMs = options.nowMs ?? Date.now();
  const store = cacheStoreOf(cacheDir);
  // The whole store is measured (estimated when large); only the buffers results need are looked up one by one.
  const size = measureStore(store.directory);
  const bytesBefore = size.bytes;
  const plan: GcPlan = {
    results: [], buffers: [], resultCount: 0, bufferCount: size.buffers, bytesBefore, bytesAfter: bytesBefore, sizeEstimated: size.estimated, keptForOthers: 0, targetMissed: false,
  };
  const looked = new Map<Checksum, StoredBuffer | undefined>();
  const inventory = {
    get(checksum: Checksum): StoredBuffer | undefined {
      if (!looked.has(checksum)) looked.set(checksum, statBuffer(store.directory, checksum));
      return looked.get(checksum);
    },
  };
  const db = openResultRows(cacheDir);
  if (!db) return plan;
  const rows = listResultRows(db);
  db.close();
  plan.resultCount = rows.length;
  const bufferOf = (checksum: Checksum) => inventory.get(checksum);
  const index = new MemberIndex(cacheDir);
  let members: Map<Checksum, Checksum[]>;
  let held: Set<Checksum>;
  try {
    members = index.membersOf(new Set(rows.map((row) => row.resultChecksum)), store, bufferOf);
    held = buffersOfRunningTransformations(cacheDir, store, index, bufferOf);
  } finally {
    index.close();
  }
  for (const checksum of leasedBuffers(cacheDir)) held.add(checksum);

  const lastUsed = hasRunLog(cacheDir) ? readLastUse(cacheDir) : new Map<Checksum, number>();
  // The run log knows when a result was last used (a hit counts); a result it does not know
  // (recorded by Python, say) is judged by its buffer's time.
  const lastUseOf = (row: ResultRow) => lastUsed.get(row.tfChecksum) ?? inventory.get(row.resultChecksum)?.mtimeMs ?? 0;
  const ordered = rows.map((row) => ({ row, lastUsedMs: lastUseOf(row) })).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
  const needed = neededBuffers(rows, members);
  const cutoff = options.olderThanMs === undefined ? null : nowMs - options.olderThanMs;
  let bytes = bytesBefore;
  for (const { row, lastUsedMs } of ordered) {
    const old = cutoff !== null && lastUsedMs < cutoff;
    const over = options.maxSizeBytes !== undefined && bytes > options.maxSizeBytes;
    if (!old && !over) {
      if (cutoff === null) break; // least recently used first: once under the size, the rest stay
      continue;
    }
    if (held.has(row.tfChecksum)) continue; // running again right now
    const age = formatAge(nowMs - lastUsedMs);
    plan.results.push({ ...row, lastUsedMs, reason: old ? `not used for ${age}` : `least recently used (${age} ago) while the cache is over --max-size` });
    const release = (checksum: Checksum, how: string) => {
      const left = (needed.get(checksum) ?? 1) - 1;
      needed.set(checksum, left);
      if (left > 0) return;
      const buffer: StoredBuffer | undefined = inventory.get(checksum);
      if (!buffer) return;
      if (held.has(checksum)) {
        plan.keptForOthers++;
        return;
      }
      plan.buffers.push({ checksum, bytes: buffer.bytes, reason: `${how} of transformation ${row.tfChecksum.slice(0, 12)}…`, paths: buffer.paths });
      bytes -= buffer.bytes;
    };
    release(row.resultChecksum, "result");
    for (const member of members.get(row.resultChecksum) ?? []) release(member, "member of the directory result");
  }
  plan.bytesAfter = bytes;
  plan.targetMissed = options.maxSizeBytes !== undefined && bytes > options.maxSizeBytes;
  return plan;
}

function readLastUse(cacheDir: string): Map<Checksum, number> {
  const log = new RunLog(cacheDir);
  try {
    return log.lastUsedByTransformation();
  } finally {
    log.close();
  }
}

function formatAge(ms: number): string {
  const days = ms / 86400_000;
  if (days >= 1) return `${Math.floor(days)} d`;
  const hours = ms / 3600_000;
  if (hours >= 1) return `${Math.floor(hours)} h`;
  return `${Math.max(0, Math.floor(ms / 60_000))} min`;
}
