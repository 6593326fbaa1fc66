/** The upload helper thread and the upload plans that use it. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { indexDirectory } from "../../../lib/checksum/file-checksum.ts";
import { StatCache } from "../../../lib/checksum/stat-cache.ts";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { findMissing } from "../../../lib/buffers/transfer.ts";
import { upload } from "../../../lib/upload/mod.ts";
import { planUpload } from "../../../lib/upload/_plan.ts";
import { sidecarFilesOf, staleSidecars, writeSidecars } from "../../../lib/upload/_sidecars.ts";
import { storeAndWriteSidecars } from "../../../lib/upload/_store.ts";
import { HELPER_MIN_FILES, UploadHelper } from "../../../lib/upload/_helper.ts";
import { hashClaimed, sharedFilesOf, sharedResults } from "../../../lib/upload/_shared-hash.ts";
import { SidecarReads, readClaimedSidecars, sharedSidecarsOf } from "../../../lib/upload/_shared-sidecars.ts";
import { StoreClaims, sharedStoresOf } from "../../../lib/upload/_shared-store.ts";
import { LIST_FROM, listDirectoriesOf } from "../../../lib/upload/_listed-dirs.ts";
import { clockPastRacyMargin, tempDir, makeStoreLookLarge } from "../../helpers.ts";

function smallFiles(dir: string, count: number): { paths: string[]; checksums: string[] } {
  mkdirSync(join(dir, "in"), { recursive: true });
  const paths: string[] = [];
  const checksums: string[] = [];
  for (let i = 0; i < count; i++) {
    const data = new TextEncoder().encode(`small file ${i}\n`);
    const path = join(dir, "in", `f${i}.txt`);
    writeFileSync(path, data);
    paths.push(path);
    checksums.push(computeChecksum(data));
  }
  return { paths, checksums };
}

describe("UploadHelper", () => {
  test("hashes shared files with this thread, then stores buffers from the shared block with it", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, 200);
    const shared = sharedFilesOf(paths, paths.map((path) => statSync(path).size));
    const helper = new UploadHelper();
    try {
      const helperDone = helper.hash(shared);
      hashClaimed(shared); // both threads claim batches until none are left
      await helperDone;
      const results = sharedResults(shared);
      expect(results.map((result) => result.checksum)).toEqual(checksums);
      expect(results.every((result) => result.bytes.buffer === shared.bytes)).toBe(true);
      expect(results[7]!.bytes).toEqual(new Uint8Array(readFileSync(paths[7]!)));
      mkdirSync(join(dir.path, "store"));
      const picked = results.slice(0, 70).map((result) => result.bytes as Uint8Array<SharedArrayBuffer>);
      const targets = picked.map((_, k) => join(dir.path, "store", `b${k}`));
      const stores = sharedStoresOf(picked, targets, 0o600);
      const claims = new StoreClaims(stores);
      expect(claims.storeNextBatch()).toBe(true); // this thread claims the first batch
      expect([0, 31].map((k) => claims.isStored(k))).toEqual([true, true]);
      expect(claims.isStored(32)).toBe(false);
      expect(claims.allStored()).toBe(false);
      await helper.store(stores); // the helper claims the rest
      expect(claims.allStored()).toBe(true);
      expect(claims.storeNextBatch()).toBe(false);
      expect(readdirSync(join(dir.path, "store")).length).toBe(70);
      for (const k of [0, 40, 69]) expect(readFileSync(targets[k]!)).toEqual(readFileSync(paths[k]!));
      expect(claims.isStored(69)).toBe(true);
      expect(claims.changes).toBe(3);
      // A failure on either thread stops the other's claims and is counted as a change.
      const failing = sharedStoresOf(picked, picked.map((_, k) => join(dir.path, k === 40 ? "no-such-dir" : "store", `c${k}`)), 0o600);
      const error = await helper.store(failing).then(() => null, (error: unknown) => error);
      expect(error).toMatchObject({ code: "ENOENT" });
      const afterFailure = new StoreClaims(failing);
      expect(afterFailure.failed).toBe(true);
      expect(afterFailure.storeNextBatch()).toBe(false);
      expect(afterFailure.isStored(39)).toBe(true);
      expect(afterFailure.isStored(40)).toBe(false);
      expect(afterFailure.changes).toBe(2);
    } finally {
      helper.close();
    }
  });

  test("a file error reaches the caller with its code and path", async () => {
    using dir = tempDir();
    const missing = join(dir.path, "gone.txt");
    const helper = new UploadHelper();
    try {
      await expect(helper.hash(sharedFilesOf([missing], [3]))).rejects.toMatchObject({ code: "ENOENT", path: missing });
    } finally {
      helper.close();
    }
  });
});

describe("shared hashing", () => {
  test("a file whose size changed since its stat is read again: the checksum is of what it holds now", () => {
    using dir = tempDir();
    const { paths } = smallFiles(dir.path, 3);
    const sizes = paths.map((path) => statSync(path).size);
    writeFileSync(paths[1]!, "grown since its stat, so longer than before\n");
    writeFileSync(paths[2]!, "x");
    const shared = sharedFilesOf(paths, sizes);
    hashClaimed(shared);
    const results = sharedResults(shared);
    for (const [k, path] of paths.entries()) expect(results[k]!.checksum).toBe(computeChecksum(readFileSync(path)));
    expect(results[0]!.bytes.buffer).toBe(shared.bytes);
    expect(results[1]!.bytes.buffer).not.toBe(shared.bytes);
  });

  test("no files", () => {
    const shared = sharedFilesOf([], []);
    hashClaimed(shared);
    expect(sharedResults(shared)).toEqual([]);
  });
});

describe("upload plans with a helper", () => {
  test("new small files are shared with the helper; stored buffers and sidecars are right; unchanged files need none", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    writeFileSync(`${paths[0]}.CHECKSUM`, `${checksums[0]}\n`); // identical: left untouched
    writeFileSync(`${paths[1]}.CHECKSUM`, `${checksums[0]}\n`); // wrong: replaced
    const untouched = statSync(`${paths[0]}.CHECKSUM`).ino;
    store.putSync(checksums[2]!, readFileSync(paths[2]!)); // present: the helper is not asked to store it
    const statCache = new StatCache(join(dir.path, "stat.sqlite"), { minBytes: 0, clock: clockPastRacyMargin });
    const plan = await planUpload(paths, statCache, { localStore: true });
    plan.helper?.close();
    expect(plan.helper).not.toBeNull();
    const shared = [...plan.buffers.values()].filter((source) => "bytes" in source && source.bytes.buffer instanceof SharedArrayBuffer).length;
    expect(shared).toBe(paths.length);
    // A sidecar exists, so the upload plans the same way (no one-pass upload): the helper hashes and stores.
    const summary = await upload(paths, store, { statCache });
    expect([summary.storedFiles, summary.storedBytes]).toEqual([paths.length - 1, paths.filter((_, i) => i !== 2).reduce((sum, path) => sum + statSync(path).size, 0)]);
    for (const [i, path] of paths.entries()) {
      expect(readFileSync(`${path}.CHECKSUM`, "utf8")).toBe(`${checksums[i]}\n`);
      expect(await store.get(checksums[i]!)).toEqual(new Uint8Array(readFileSync(path)));
    }
    expect(statSync(`${paths[0]}.CHECKSUM`).ino).toBe(untouched);
    const again = await planUpload(paths, statCache, { localStore: true });
    expect(again.helper).toBeNull();
    expect([...again.buffers.keys()].toSorted()).toEqual(checksums.toSorted());
    statCache.close();
  });

  test("a buffer the helper cannot store fails the upload, and no sidecar is written ahead of its buffer", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    const plan = await planUpload(paths, null, { localStore: true });
    try {
      const missing = await findMissing(store, plan);
      const failing = 600;
      mkdirSync(store.pathFor(checksums[failing]!), { recursive: true }); // renaming a file onto it fails
      const error = await storeAndWriteSidecars(store, missing, sidecarFilesOf(plan), { helper: plan.helper }).then(() => null, (error: unknown) => error);
      expect(error).toMatchObject({ code: "EISDIR" });
    } finally {
      plan.helper?.close();
    }
    expect(existsSync(`${paths[0]}.CHECKSUM`)).toBe(true);
    for (const path of paths.slice(600)) expect(existsSync(`${path}.CHECKSUM`)).toBe(false);
  });

  test("the files of a directory input are hashed and stored as file inputs are; its sidecars come after all buffers", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, HELPER_MIN_FILES + 10); // in dir/in
    const loose = join(dir.path, "loose.txt");
    writeFileSync(loose, "loose\n");
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    const plan = await planUpload([loose, join(dir.path, "in")], null, { localStore: true });
    const expected = indexDirectory(join(dir.path, "in"));
    try {
      expect(plan.helper).not.toBeNull();
      const shared = [...plan.buffers.values()].filter((source) => "bytes" in source && source.bytes.buffer instanceof SharedArrayBuffer).length;
      expect(shared).toBe(paths.length + 1); // the loose file too
      expect(plan.sidecars.map((sidecar) => sidecar.checksum)).toEqual([computeChecksum("loose\n"), expected.checksum]);
      const missing = await findMissing(store, plan);
      const failing = 600;
      mkdirSync(store.pathFor(checksums[failing]!), { recursive: true }); // renaming a file onto it fails
      const error = await storeAndWriteSidecars(store, missing, sidecarFilesOf(plan), { helper: plan.helper }).then(() => null, (error: unknown) => error);
      expect(error).toMatchObject({ code: "EISDIR" });
      // The loose file's buffer came first and was stored before the failure, so its sidecar
      // was written; the directory's sidecars wait for every buffer of its files.
      expect(existsSync(`${loose}.CHECKSUM`)).toBe(true);
      expect(existsSync(join(dir.path, "in.INDEX"))).toBe(false);
      expect(existsSync(join(dir.path, "in.CHECKSUM"))).toBe(false);
      rmSync(store.pathFor(checksums[failing]!), { recursive: true });
      await storeAndWriteSidecars(store, await findMissing(store, plan), sidecarFilesOf(plan), { helper: plan.helper, compare: true });
    } finally {
      plan.helper?.close();
    }
    expect(readFileSync(join(dir.path, "in.INDEX"))).toEqual(Buffer.from(expected.indexBuffer));
    expect(readFileSync(join(dir.path, "in.CHECKSUM"), "utf8")).toBe(`${expected.checksum}\n`);
    for (const [i, path] of paths.entries()) expect(await store.get(checksums[i]!)).toEqual(new Uint8Array(readFileSync(path)));
    expect(await store.get(expected.checksum)).toEqual(new Uint8Array(expected.indexBuffer));
  });

  test("a file the helper cannot read fails the plan with that file's error", async () => {
    using dir = tempDir();
    const { paths } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    // Stats as an empty regular file, and reading it fails (EIO) even for root: it lands in the
    // shared files, whichever thread claims it.
    const unreadable = "/proc/self/mem";
    await expect(planUpload([...paths, unreadable], null, { localStore: true })).rejects.toMatchObject({ path: unreadable });
  });
});

describe("upload sidecars", () => {
  test("staleSidecars() finds missing and differing sidecars; identical ones stay untouched", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, 3);
    mkdirSync(join(dir.path, "tree"));
    writeFileSync(join(dir.path, "tree", "a.txt"), "a\n");
    writeFileSync(`${paths[0]}.CHECKSUM`, `${checksums[0]}\n`); // identical
    writeFileSync(`${paths[1]}.CHECKSUM`, `${checksums[0]}\n`); // wrong; paths[2] has none
    const untouched = statSync(`${paths[0]}.CHECKSUM`).ino;
    const plan = await planUpload([...paths, join(dir.path, "tree")], null);
    const stale = await staleSidecars(plan);
    expect(stale.map((file) => file.path).toSorted()).toEqual(
      [`${paths[1]}.CHECKSUM`, `${paths[2]}.CHECKSUM`, join(dir.path, "tree.CHECKSUM"), join(dir.path, "tree.INDEX")].toSorted(),
    );
    await writeSidecars(stale);
    for (const [i, path] of paths.entries()) expect(readFileSync(`${path}.CHECKSUM`, "utf8")).toBe(`${checksums[i]}\n`);
    expect(statSync(`${paths[0]}.CHECKSUM`).ino).toBe(untouched);
    const index = readFileSync(join(dir.path, "tree.INDEX"));
    expect(JSON.parse(index.toString())).toEqual({ "a.txt": computeChecksum("a\n") });
    expect(readFileSync(join(dir.path, "tree.CHECKSUM"), "utf8")).toBe(`${computeChecksum(index)}\n`);
    expect(await staleSidecars(plan)).toEqual([]);
  });
});

describe("sidecars read ahead", () => {
  test("a re-upload's plan knows from the helper's reading which sidecars hold what they should", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    // A directory named like a compressed file: read ahead under the wrong name, which holds
    // what its right one should, so the plan must not use that reading.
    mkdirSync(join(dir.path, "d.gz"));
    writeFileSync(join(dir.path, "d.gz", "a.txt"), "a\n");
    const inputs = [...paths, join(dir.path, "d.gz")];
    const statCache = new StatCache(join(dir.path, "stat.sqlite"), { minBytes: 0, clock: clockPastRacyMargin });
    const first = await planUpload(inputs, statCache, { localStore: true });
    first.helper?.close();
    first.recordStatCache();
    await writeSidecars(sidecarFilesOf(first));
    const dirChecksum = readFileSync(join(dir.path, "d.gz.CHECKSUM"), "utf8");
    rmSync(join(dir.path, "d.gz.CHECKSUM"));
    writeFileSync(join(dir.path, "d.CHECKSUM"), dirChecksum);
    writeFileSync(`${paths[1]}.CHECKSUM`, `${checksums[0]}\n`); // wrong
    rmSync(`${paths[2]}.CHECKSUM`); // absent
    writeFileSync(`${paths[3]}.CHECKSUM`, `${checksums[3]}\n# more\n`); // longer
    rmSync(`${paths[4]}.CHECKSUM`);
    mkdirSync(`${paths[4]}.CHECKSUM`); // unreadable: left to the check without read-ahead
    const untouched = statSync(`${paths[5]}.CHECKSUM`).ino;

    const again = await planUpload(inputs, statCache, { localStore: true });
    statCache.close();
    expect(again.helper).toBeNull(); // an unchanged set: no hashing, and the reading helper is closed
    const held = again.sidecars.map((sidecar) => sidecar.heldAlready);
    expect(held.slice(0, 6)).toEqual([true, false, false, false, undefined, true]);
    expect(held.filter((value) => value === true)).toHaveLength(paths.length - 4);
    expect(held.at(-1)).toBeUndefined();
    const stale = await staleSidecars(again);
    expect(stale.map((file) => file.path).toSorted()).toEqual(
      [1, 2, 3, 4].map((i) => `${paths[i]}.CHECKSUM`).concat(join(dir.path, "d.gz.CHECKSUM")).toSorted(),
    );
    rmSync(`${paths[4]}.CHECKSUM`, { recursive: true });
    await writeSidecars(stale);
    for (const i of [1, 2, 3, 4]) expect(readFileSync(`${paths[i]}.CHECKSUM`, "utf8")).toBe(`${checksums[i]}\n`);
    expect(readFileSync(join(dir.path, "d.gz.CHECKSUM"), "utf8")).toBe(dirChecksum);
    expect(statSync(`${paths[5]}.CHECKSUM`).ino).toBe(untouched);
  });

  test("reading stops after many absent sidecars: those left unread are unknown, not absent", () => {
    using dir = tempDir();
    const paths = Array.from({ length: 500 }, (_, i) => join(dir.path, `none${i}.CHECKSUM`));
    writeFileSync(paths[499]!, "x\n");
    const shared = sharedSidecarsOf(paths);
    readClaimedSidecars(shared);
    const reads = new SidecarReads(shared, paths);
    expect(reads.holds(0, paths[0]!, "x\n")).toBe(false);
    expect(reads.holds(499, paths[499]!, "x\n")).toBeUndefined();
  });
});

describe("unchanged re-uploads", () => {
  /** Many files uploaded once into a local store, their sidecars written and the set recorded. */
  async function uploaded(dir: string) {
    const { paths, checksums } = smallFiles(dir, HELPER_MIN_FILES + 10);
    const store = new BufferDir(join(dir, "cache"), { layout: "prefix" });
    store.ensureExists();
    const statCache = new StatCache(join(dir, "stat.sqlite"), { minBytes: 0, clock: clockPastRacyMargin });
    await upload(paths, store, { statCache });
    return { paths, checksums, store, statCache };
  }

  test("sidecars right and buffers stored: the plan has nothing to store or write", async () => {
    using dir = tempDir();
    const { paths, store, statCache } = await uploaded(dir.path);
    const again = await planUpload(paths, statCache, { localStore: true, directStore: store });
    statCache.close();
    expect(again.helper).toBeNull();
    expect(again.buffers.size).toBe(0);
    expect(again.sidecars).toEqual([]);
  });

  test("a buffer gone from the store is stored again", async () => {
    using dir = tempDir();
    const { paths, checksums, store, statCache } = await uploaded(dir.path);
    rmSync(store.pathFor(checksums[9]!));
    const again = await planUpload(paths, statCache, { localStore: true, directStore: store });
    statCache.close();
    expect((await findMissing(store, again)).map((source) => source.checksum)).toEqual([checksums[9]!]);
    expect(await staleSidecars(again)).toEqual([]);
  });

  test("a sidecar changed, or one gone, is written again; the others stay untouched", async () => {
    using dir = tempDir();
    const { paths, checksums, store, statCache } = await uploaded(dir.path);
    writeFileSync(`${paths[3]}.CHECKSUM`, `${checksums[4]}\n`);
    rmSync(`${paths.at(-2)}.CHECKSUM`);
    const untouched = statSync(`${paths[5]}.CHECKSUM`).ino;
    const again = await planUpload(paths, statCache, { localStore: true, directStore: store });
    statCache.close();
    expect(await findMissing(store, again)).toEqual([]);
    const stale = await staleSidecars(again);
    expect(stale.map((file) => file.path)).toEqual([`${paths[3]}.CHECKSUM`, `${paths.at(-2)}.CHECKSUM`]);
    await writeSidecars(stale);
    expect(readFileSync(`${paths[3]}.CHECKSUM`, "utf8")).toBe(`${checksums[3]}\n`);
    expect(readFileSync(`${paths.at(-2)}.CHECKSUM`, "utf8")).toBe(`${checksums.at(-2)}\n`);
    expect(statSync(`${paths[5]}.CHECKSUM`).ino).toBe(untouched);
  });
});

describe("sidecar directories listed", () => {
  test("a first upload's plan knows from a listing which sidecars are absent; present ones are compared", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, LIST_FROM + 10);
    mkdirSync(join(dir.path, "few"));
    writeFileSync(join(dir.path, "few", "a.txt"), "a\n");
    // Neither the first nor the last sidecar exists, so nothing is read ahead.
    writeFileSync(`${paths[1]}.CHECKSUM`, `${checksums[1]}\n`); // identical: left untouched
    writeFileSync(`${paths[2]}.CHECKSUM`, `${checksums[0]}\n`); // wrong: replaced
    const untouched = statSync(`${paths[1]}.CHECKSUM`).ino;
    const plan = await planUpload([...paths, join(dir.path, "few", "a.txt")], null, { localStore: true });
    const held = plan.sidecars.map((sidecar) => sidecar.heldAlready);
    expect(held.slice(0, 4)).toEqual([false, undefined, undefined, false]);
    expect(held.filter((value) => value === false)).toHaveLength(paths.length - 2);
    expect(held.at(-1)).toBeUndefined(); // its directory holds too few inputs to be listed
    await writeSidecars(sidecarFilesOf(plan), { compare: true });
    for (const [i, path] of paths.entries()) expect(readFileSync(`${path}.CHECKSUM`, "utf8")).toBe(`${checksums[i]}\n`);
    expect(statSync(`${paths[1]}.CHECKSUM`).ino).toBe(untouched);
    expect(readFileSync(join(dir.path, "few", "a.txt.CHECKSUM"), "utf8")).toBe(`${computeChecksum("a\n")}\n`);
  });

  test("lacks() answers only for listed directories", async () => {
    using dir = tempDir();
    const { paths } = smallFiles(dir.path, LIST_FROM);
    symlinkSync(paths[1]!, join(dir.path, "in", "link"));
    mkdirSync(join(dir.path, "in", "sub"));
    const listings = await listDirectoriesOf([...paths, "elsewhere/x", "/no/such/dir/y"]);
    expect(listings.lacks(`${paths[0]}.CHECKSUM`)).toBe(true);
    // Entry types: only a regular file listed as one counts (a link to one is looked at later).
    expect([paths[0]!, join(dir.path, "in", "link"), join(dir.path, "in", "sub"), "elsewhere/x"].map((path) => listings.holdsRegularFile(path))).toEqual([true, false, false, false]);
    expect(listings.lacks(paths[0]!)).toBe(false);
    expect(listings.lacks("elsewhere/x.CHECKSUM")).toBe(false);
    const unlistable = await listDirectoriesOf(Array.from({ length: LIST_FROM }, (_, i) => `/no/such/dir/f${i}`));
    expect(unlistable.lacks("/no/such/dir/f0.CHECKSUM")).toBe(false);
    const relative = await listDirectoriesOf(Array.from({ length: LIST_FROM }, (_, i) => `f${i}`));
    expect(relative.lacks("f0.CHECKSUM")).toBe(!existsSync("f0.CHECKSUM"));
    // Inputs of two directories, interleaved: each directory's count adds up over its runs.
    mkdirSync(join(dir.path, "b"));
    const interleaved = paths.flatMap((path, i) => [path, join(dir.path, "b", `g${i}`)]);
    const both = await listDirectoriesOf(interleaved);
    expect(both.lacks(join(dir.path, "b", "g0.CHECKSUM"))).toBe(true);
    expect(both.lacks(`${paths[0]}.CHECKSUM`)).toBe(true);
  });
});

describe("one-pass uploads", () => {
  test("stores each buffer and writes each sidecar; present buffers and identical sidecars stay untouched", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    writeFileSync(paths[7]!, "small file 6\n"); // the same bytes as file 6: stored and counted once
    checksums[7] = checksums[6]!;
    writeFileSync(`${paths[1]}.CHECKSUM`, `${checksums[1]}\n`); // identical: left untouched
    writeFileSync(`${paths[2]}.CHECKSUM`, `${checksums[0]}\n`); // wrong: replaced
    writeFileSync(`${paths[3]}.CHECKSUM`, `${checksums[3]}\n# a comment\n`); // longer: replaced
    const untouchedSidecar = statSync(`${paths[1]}.CHECKSUM`).ino;
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    store.putSync(checksums[4]!, readFileSync(paths[4]!)); // present
    const untouchedBuffer = statSync(store.pathFor(checksums[4]!)).ino;
    const statCache = new StatCache(join(dir.path, "stat.sqlite"), { minBytes: 0, clock: clockPastRacyMargin });
    // The plan carries out the upload in one pass, and leaves nothing over.
    const plan = await planUpload(paths, statCache, { localStore: true, directStore: store });
    plan.recordStatCache();
    expect(plan.helper).toBeNull();
    expect(plan.buffers.size).toBe(0);
    expect(plan.sidecars).toEqual([]);
    const bytes = paths.filter((_, i) => i !== 4 && i !== 7).reduce((sum, path) => sum + statSync(path).size, 0);
    expect(plan.storedAlready).toEqual({ count: paths.length - 2, bytes });
    for (const [i, path] of paths.entries()) {
      expect(readFileSync(`${path}.CHECKSUM`, "utf8")).toBe(`${checksums[i]}\n`);
      expect(await store.get(checksums[i]!)).toEqual(new Uint8Array(readFileSync(path)));
    }
    expect(statSync(`${paths[1]}.CHECKSUM`).ino).toBe(untouchedSidecar);
    expect(statSync(store.pathFor(checksums[4]!)).ino).toBe(untouchedBuffer);
    expect(readdirSync(dir.path, { recursive: true }).filter((name) => String(name).endsWith(".tmp"))).toEqual([]);
    // The stat cache knows them as a set now: a re-upload hashes nothing, and finds nothing to do.
    const again = await planUpload(paths, statCache, { localStore: true, directStore: store });
    expect(again.helper).toBeNull();
    expect(again.storedAlready.count).toBe(0);
    expect(again.buffers.size).toBe(0);
    expect(again.sidecars).toEqual([]);
    statCache.close();
  });

  test("into a store too large to list, each buffer is looked up: present ones stay untouched", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    makeStoreLookLarge(store.directory);
    expect(store._listingPays(paths.length)).toBe(false);
    store.putSync(checksums[4]!, readFileSync(paths[4]!));
    const untouchedBuffer = statSync(store.pathFor(checksums[4]!)).ino;
    const summary = await upload(paths, store);
    expect(summary.storedFiles).toBe(paths.length - 1);
    expect(statSync(store.pathFor(checksums[4]!)).ino).toBe(untouchedBuffer);
    for (const [i, path] of paths.entries()) {
      expect(readFileSync(`${path}.CHECKSUM`, "utf8")).toBe(`${checksums[i]}\n`);
      expect(await store.get(checksums[i]!)).toEqual(new Uint8Array(readFileSync(path)));
    }
  });

  test("directories, compressed, large and special files are left to the general upload", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    mkdirSync(join(dir.path, "sub"));
    writeFileSync(join(dir.path, "sub", "a.txt"), "a\n");
    const gz = join(dir.path, "c.txt.gz");
    writeFileSync(gz, Bun.gzipSync(new TextEncoder().encode("compressed\n")));
    const large = join(dir.path, "large.bin");
    const largeBytes = new Uint8Array(1024 * 1024 + 1).fill(7);
    writeFileSync(large, largeBytes);
    // A FIFO whose writer is already waiting for a reader: the one-pass open must not cost it a
    // SIGPIPE; the general upload reads what it writes.
    const fifo = join(dir.path, "pipe");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const writer = Bun.spawn(["sh", "-c", `sleep 0.2; printf piped > '${fifo}'`]);
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    const inputs = [...paths.slice(0, 600), join(dir.path, "sub"), gz, large, fifo, ...paths.slice(600)];
    const summary = await upload(inputs, store);
    expect(await writer.exited).toBe(0);
    const expected = indexDirectory(join(dir.path, "sub"));
    expect(summary.storedFiles).toBe(paths.length + 5); // the directory's file and its index buffer too
    expect(summary.inputs.slice(600, 604).map((input) => input.path)).toEqual([join(dir.path, "sub"), gz, large, fifo]);
    expect(readFileSync(`${fifo}.CHECKSUM`, "utf8")).toBe(`${computeChecksum("piped")}\n`);
    expect(readFileSync(join(dir.path, "sub.CHECKSUM"), "utf8")).toBe(`${expected.checksum}\n`);
    expect(readFileSync(join(dir.path, "c.txt.CHECKSUM"), "utf8")).toBe(`${computeChecksum("compressed\n")}\n`);
    expect(readFileSync(`${large}.CHECKSUM`, "utf8")).toBe(`${computeChecksum(largeBytes)}\n`);
    expect(await store.get(computeChecksum(largeBytes))).toEqual(largeBytes);
    for (const [i, path] of paths.entries()) expect(readFileSync(`${path}.CHECKSUM`, "utf8")).toBe(`${checksums[i]}\n`);
  });

  test("a missing input fails the upload as the general upload does, and the claiming stops", async () => {
    using dir = tempDir();
    const { paths } = smallFiles(dir.path, HELPER_MIN_FILES * 4);
    const missing = join(dir.path, "in", "gone.txt");
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    const inputs = [...paths.slice(0, 100), missing, ...paths.slice(100)];
    await expect(upload(inputs, store)).rejects.toThrow(`Cannot upload "${missing}": no such file or directory`);
    const written = paths.filter((path) => existsSync(`${path}.CHECKSUM`)).length;
    expect(written).toBeLessThan(paths.length);
  });

  test("a file that cannot be read fails the upload with that file's error", async () => {
    using dir = tempDir();
    const { paths } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    const unreadable = "/proc/self/mem"; // a regular file of size 0 whose read fails (EIO)
    await expect(upload([...paths.slice(0, 500), unreadable, ...paths.slice(500)], store)).rejects.toMatchObject({ path: unreadable });
  });

  test("a buffer that cannot be stored fails the upload; no sidecar names it", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    // A file where a prefix directory goes: the buffers with that prefix cannot be stored.
    const prefix = checksums[600]!.slice(0, 2);
    writeFileSync(join(store.directory, prefix), "not a directory\n");
    const error = await upload(paths, store).then(() => null, (error: unknown) => error);
    expect(error).toMatchObject({ code: expect.stringMatching(/^(EEXIST|ENOTDIR)$/) });
    for (const [i, path] of paths.entries()) if (checksums[i]!.startsWith(prefix)) expect(existsSync(`${path}.CHECKSUM`)).toBe(false);
    // How far the main thread got before the failure depends on timing; what it wrote names stored buffers.
    for (const [i, path] of paths.entries()) if (existsSync(`${path}.CHECKSUM`)) expect(existsSync(store.pathFor(checksums[i]!))).toBe(true);
    expect(existsSync(`${paths.at(-1)}.CHECKSUM`)).toBe(false); // sidecars go in order, and file 600 never gets one
  });
});
