/** upload(): the one call behind `seamless upload`, into a local directory, a server-like store and a destination. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "../../../lib/checksum/checksum.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { indexDirectory } from "../../../lib/checksum/file-checksum.ts";
import { SMALL_FILE_BYTES } from "../../../lib/checksum/file-content.ts";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import type { BufferStore } from "../../../lib/buffers/store.ts";
import { SeamlessError } from "../../../lib/errors.ts";
import { StatCache } from "../../../lib/checksum/stat-cache.ts";
import { registerTempWriter } from "../../../lib/buffers/temp-files.ts";
import { openDestination, upload } from "../../../lib/upload/mod.ts";
import { HELPER_MIN_FILES } from "../../../lib/upload/_helper.ts";
import { clockPastRacyMargin, tempDir } from "../../helpers.ts";
import { SILENT_LOG } from "../../../lib/log.ts";

/** A store with no local directory, as a hashserver client is: buffers in memory. */
class MemoryStore implements BufferStore {
  readonly location = "memory";
  readonly buffers = new Map<Checksum, Uint8Array>();
  async has(checksums: Checksum[]) {
    return checksums.map((checksum) => this.buffers.has(checksum));
  }
  async lengths(checksums: Checksum[]) {
    return checksums.map((checksum) => this.buffers.get(checksum)?.byteLength ?? null);
  }
  async get(checksum: Checksum) {
    return this.buffers.get(checksum) ?? null;
  }
  async getToFile(): Promise<boolean> {
    throw new Error("not used");
  }
  async put(checksum: Checksum, bytes: Uint8Array) {
    this.buffers.set(checksum, bytes);
  }
  async putFile(checksum: Checksum, path: string) {
    this.buffers.set(checksum, new Uint8Array(readFileSync(path)));
  }
  close() {}
}

/** A stat cache closed at the end of its scope. */
function disposable(statCache: StatCache): { value: StatCache; [Symbol.dispose](): void } {
  return { value: statCache, [Symbol.dispose]: () => statCache.close() };
}

describe("upload()", () => {
  test("stores a file into a local buffer directory and writes its sidecar", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "a.txt"), "alpha\n");
    const store = new BufferDir(join(dir.path, "buffers"), { layout: "prefix" });
    store.ensureExists();
    const messages: string[] = [];
    const summary = await upload([join(dir.path, "a.txt")], store, { log: { ...SILENT_LOG, message: (level: number, text: string) => void messages.push(`${level} ${text}`) } });
    const checksum = computeChecksum("alpha\n");
    expect([summary.storedFiles, summary.storedBytes]).toEqual([1, 6]);
    expect(summary.inputs).toEqual([{ path: join(dir.path, "a.txt"), checksum }]);
    expect(readFileSync(join(dir.path, "a.txt.CHECKSUM"), "utf8")).toBe(`${checksum}\n`);
    expect(readFileSync(store.pathFor(checksum), "utf8")).toBe("alpha\n");
    expect(messages).toEqual(["0 Upload 1 files, total 6.00 B"]);
    // Again: nothing to store, said only at level 1; the sidecar stays untouched.
    const inode = statSync(join(dir.path, "a.txt.CHECKSUM")).ino;
    const again = await upload([join(dir.path, "a.txt")], store, { log: { ...SILENT_LOG, message: (level: number, text: string) => void messages.push(`${level} ${text}`) } });
    expect(again.storedFiles).toBe(0);
    expect(messages.at(-1)).toBe("1 Upload no files");
    expect(statSync(join(dir.path, "a.txt.CHECKSUM")).ino).toBe(inode);
  });

  test("a directory into a store without a local directory: its files and index buffer, .INDEX and .CHECKSUM", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "d"));
    writeFileSync(join(dir.path, "d", "b.txt"), "beta\n");
    const store = new MemoryStore();
    const totals: number[] = [];
    const summary = await upload([`${join(dir.path, "d")}/`], store, { progress: (total) => (totals.push(total), () => {}) });
    const expected = indexDirectory(join(dir.path, "d"));
    expect(summary.storedFiles).toBe(2);
    expect(totals).toEqual([summary.storedBytes]);
    expect(store.buffers.get(expected.checksum)).toEqual(new Uint8Array(expected.indexBuffer));
    expect(store.buffers.get(computeChecksum("beta\n"))).toEqual(new TextEncoder().encode("beta\n"));
    expect(readFileSync(join(dir.path, "d.CHECKSUM"), "utf8")).toBe(`${expected.checksum}\n`);
    expect(summary.inputs).toEqual([{ path: join(dir.path, "d"), checksum: expected.checksum }]);
  });

  test("an upload to a server beyond the limits is refused when not confirmed: nothing stored, no sidecar", async () => {
    using dir = tempDir();
    const paths = [0, 1, 2].map((i) => join(dir.path, `f${i}.txt`));
    for (const [i, path] of paths.entries()) writeFileSync(path, `file ${i}\n`);
    const store = new MemoryStore();
    const questions: string[] = [];
    const refused = upload(paths, store, { limits: { maxFiles: 2, maxBytes: 1e9 }, confirm: (question) => (questions.push(question), false) });
    await expect(refused).rejects.toThrow(new SeamlessError("Cannot confirm upload of 3 files, total 21.00 B. Exiting."));
    expect(questions).toEqual(["Confirm upload of 3 files, total 21.00 B? (y/[n])? "]);
    expect(store.buffers.size).toBe(0);
    expect(paths.some((path) => existsSync(`${path}.CHECKSUM`))).toBe(false);
    // Confirmed, or within the limits, it goes ahead; a local store is never asked about.
    expect((await upload(paths, store, { limits: { maxFiles: 2, maxBytes: 1e9 }, confirm: () => true })).storedFiles).toBe(3);
    const local = new BufferDir(join(dir.path, "buffers"));
    local.ensureExists();
    expect((await upload(paths, local, { limits: { maxFiles: 0, maxBytes: 0 }, confirm: () => false })).storedFiles).toBe(3);
  });

  test("into a destination: hard links, mode 0444 for copies; --move removes the inputs after onUploaded", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "dest"));
    // Large: a small file's bytes are kept from hashing and written as a copy, even with `hardlink`.
    const large = new Uint8Array(SMALL_FILE_BYTES + 1).fill(1);
    writeFileSync(join(dir.path, "a.bin"), large);
    writeFileSync(join(dir.path, "b.txt"), "beta\n");
    const destination = openDestination(join(dir.path, "dest"));
    await upload([join(dir.path, "a.bin")], destination, { destination: { mode: "hardlink" } });
    expect(statSync(join(dir.path, "dest", computeChecksum(large))).ino).toBe(statSync(join(dir.path, "a.bin")).ino);
    const seen: boolean[] = [];
    await upload([join(dir.path, "b.txt")], destination, { destination: {}, move: true, onUploaded: () => seen.push(existsSync(join(dir.path, "b.txt"))) });
    expect(seen).toEqual([true]);
    expect(existsSync(join(dir.path, "b.txt"))).toBe(false);
    expect(statSync(join(dir.path, "dest", computeChecksum("beta\n"))).mode & 0o777).toBe(0o444);
    expect(readFileSync(join(dir.path, "b.txt.CHECKSUM"), "utf8")).toBe(`${computeChecksum("beta\n")}\n`);
    expect(() => openDestination(join(dir.path, "nowhere"))).toThrow(`Destination "${join(dir.path, "nowhere")}" is not a directory`);
    await expect(upload([join(dir.path, "a.bin")], new MemoryStore(), { destination: {} })).rejects.toThrow(TypeError);
  });

  test("notes where it writes sidecars in this process's registration, in one pass too; an unchanged re-upload notes nothing", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const release = registerTempWriter(cache);
    const registration = join(cache, "writers", readdirSync(join(cache, "writers"))[0]!);
    try {
      const noted = () => readFileSync(registration, "utf8");
      mkdirSync(join(dir.path, "many"));
      const paths = Array.from({ length: HELPER_MIN_FILES }, (_, i) => join(dir.path, "many", `f${i}`));
      for (const path of paths) writeFileSync(path, path);
      const store = new BufferDir(join(cache, "buffers"), { layout: "prefix" });
      store.ensureExists();
      using statCache = disposable(new StatCache(join(cache, "stat.sqlite"), { minBytes: 0, clock: clockPastRacyMargin }));
      expect((await upload(paths, store, { statCache: statCache.value })).storedFiles).toBe(paths.length); // a first upload of many: one pass
      expect(noted()).toBe(`${join(dir.path, "many")}\n`);
      expect((await upload(paths, store, { statCache: statCache.value })).storedFiles).toBe(0);
      expect(noted()).toBe(`${join(dir.path, "many")}\n`);
      writeFileSync(join(dir.path, "one.txt"), "one\n");
      await upload([join(dir.path, "one.txt")], store);
      expect(noted()).toBe(`${join(dir.path, "many")}\n${dir.path}\n`);
    } finally {
      release();
    }
    expect(existsSync(registration)).toBe(false);
  });
});
