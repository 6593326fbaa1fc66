/**
 * Which buffers a buffer refers to: the members of a deep index (a directory result), the pins
 * of a transformation. Content-addressed, so the answer never changes: it is kept in
 * `gc-index.sqlite` in the cache directory, and each buffer is read once.
 * @module
 */
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import type { BufferDir } from "../buffers/bufferdir.ts";
import type { StoredBuffer } from "./inventory.ts";
import { readFileSync } from "node:fs";
import { openDatabase, retryWhileBusy } from "../disk/sqlite.ts";

/** Larger buffers are not read as indexes: a result index names files, it is not data. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;

/** The members of a deep index buffer, or [] when it is not one. */
export function membersOfIndexBuffer(bytes: Uint8Array): Checksum[] {
  if (bytes.byteLength < 2 || bytes[0] !== 0x7b /* { */) return [];
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return [];
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return [];
  const members = Object.values(value as Record<string, unknown>);
  return members.length > 0 && members.every((member) => typeof member === "string" && HEX64.test(member)) ? (members as Checksum[]) : [];
}

/** The checksums a transformation buffer's pins name (code, inputs, variables). */
export function pinsOfTransformationBuffer(bytes: Uint8Array): { checksum: Checksum; directory: boolean }[] {
  let dict: Record<string, unknown>;
  try {
    dict = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return [];
  }
  const pins: { checksum: Checksum; directory: boolean }[] = [];
  for (const value of Object.values(dict ?? {})) {
    if (Array.isArray(value) && typeof value[2] === "string" && HEX64.test(value[2])) pins.push({ checksum: value[2], directory: value[0] === "mixed" });
  }
  return pins;
}

/** The kept answers of {@link membersOfIndexBuffer}. */
export class MemberIndex {
  readonly #db: Database;

  constructor(cacheDir: string) {
    this.#db = openDatabase(join(cacheDir, "gc-index.sqlite"));
    retryWhileBusy(() => this.#db.exec(`CREATE TABLE IF NOT EXISTS scanned (checksum TEXT PRIMARY KEY, members TEXT NOT NULL) WITHOUT ROWID`));
  }

  /**
   * The members of each of these buffers (those that are deep indexes), reading only buffers
   * not seen before.
   *
   * @param checksums the buffers (results)
   * @param store where to read compressed ones
   * @param bufferOf a buffer's files ({@link statBuffer}); an absent buffer is not remembered
   */
  membersOf(checksums: Iterable<Checksum>, store: BufferDir, bufferOf: (checksum: Checksum) => StoredBuffer | undefined): Map<Checksum, Checksum[]> {
    const known = new Map<Checksum, Checksum[]>();
    for (const [checksum, members] of this.#db.query(`SELECT checksum, members FROM scanned`).values() as [string, string][]) {
      known.set(checksum, members ? members.split(",") : []);
    }
    const found = new Map<Checksum, Checksum[]>();
    const learned: [Checksum, string][] = [];
    for (const checksum of checksums) {
      let members = known.get(checksum);
      if (members === undefined) {
        const buffer = bufferOf(checksum);
        if (buffer === undefined) continue; // not stored: nothing to read, nothing to remember
        let bytes: Uint8Array | null = null;
        if (buffer.bytes <= MAX_INDEX_BYTES) {
          try {
            // A plain buffer is read as it is, unverified: a corrupt one misread as an index
            // only makes gc keep more (its "members" count as needed while it is kept).
            const plain = buffer.paths[0]!.endsWith(checksum);
            bytes = plain ? readFileSync(buffer.paths[0]!) : store.getSync(checksum);
          } catch {
            bytes = null; // unreadable or corrupt: not an index we can trust
          }
        }
        members = bytes ? membersOfIndexBuffer(bytes) : [];
        known.set(checksum, members);
        learned.push([checksum, members.join(",")]);
      }
      if (members.length > 0) found.set(checksum, members);
    }
    if (learned.length > 0) {
      // In key order: random keys inserted one by one cost ~5x more B-tree work.
      learned.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      retryWhileBusy(() => this.#db.transaction(() => {
        const insert = this.#db.query(`INSERT OR IGNORE INTO scanned (checksum, members) VALUES (?, ?)`);
        for (const [checksum, members] of learned) insert.run(checksum, members);
      }).immediate());
    }
    return found;
  }

  close(): void {
    this.#db.close();
  }
}
